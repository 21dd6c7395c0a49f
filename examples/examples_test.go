package examples

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// The facts every example must agree on.
const (
	metricsPath = "/metrics/prometheus"
	bridgePort  = 4444
	jobName     = "mcp-gateway"
	tokenFile   = "metrics-token.jwt"
)

// Prometheus configuration, as far as the examples use it.
type promConfig struct {
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type scrapeConfig struct {
	JobName       string `yaml:"job_name"`
	MetricsPath   string `yaml:"metrics_path"`
	Authorization *struct {
		Type            string
		CredentialsFile string `yaml:"credentials_file"`
	}
	StaticConfigs []struct {
		Targets []string
	} `yaml:"static_configs"`
	KubernetesSDConfigs []struct {
		Role       string
		Namespaces struct {
			Names []string
		}
	} `yaml:"kubernetes_sd_configs"`
	RelabelConfigs []struct {
		SourceLabels []string `yaml:"source_labels"`
		Action       string
		Regex        string
		TargetLabel  string `yaml:"target_label"`
	} `yaml:"relabel_configs"`
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeYAML parses data into v, naming the file in the failure.
func decodeYAML(t testing.TB, name string, data []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadYAML(t testing.TB, name string, v any) {
	t.Helper()
	decodeYAML(t, name, readFile(t, name), v)
}

// yamlDocs splits a multi-document YAML file into its documents.
func yamlDocs(t testing.TB, name string) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, name)))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, &n)
	}
}

func runPromtool(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtest.Tool(t, "promtool"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkConfig runs `promtool check config` on a Prometheus configuration
// that names files of the machine it is deployed to. Every
// credentials_file is pointed at a token file in a temporary directory and
// the rule files are written next to the configuration, as promtool insists
// that both exist; prepare, when not nil, may change more. It returns the
// credentials files the configuration named.
func checkConfig(t *testing.T, config []byte, rules map[string][]byte, prepare func(doc map[string]any, dir string)) []string {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, tokenFile)
	if err := os.WriteFile(token, []byte("header.payload.signature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	decodeYAML(t, "configuration", config, &doc)
	if prepare != nil {
		prepare(doc, dir)
	}
	var named []string
	scrapes, _ := doc["scrape_configs"].([]any)
	if len(scrapes) == 0 {
		t.Fatal("configuration has no scrape_configs")
	}
	for _, sc := range scrapes {
		auth, _ := sc.(map[string]any)["authorization"].(map[string]any)
		f, ok := auth["credentials_file"].(string)
		if !ok {
			t.Fatalf("scrape config %v has no authorization.credentials_file", sc.(map[string]any)["job_name"])
		}
		named = append(named, f)
		auth["credentials_file"] = token
	}
	ruleFiles, _ := doc["rule_files"].([]any)
	for _, rf := range ruleFiles {
		name, _ := rf.(string)
		content, ok := rules[name]
		if !ok || filepath.IsAbs(name) || strings.Contains(name, "/") {
			t.Fatalf("rule file %q is not one of the shipped rule files", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, out, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := runPromtool(t, dir, "check", "config", cfg)
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s\nconfiguration checked:\n%s", err, res, out)
	}
	if len(ruleFiles) > 0 && !strings.Contains(res, "rules found") {
		t.Errorf("promtool did not load the rule files:\n%s", res)
	}
	return named
}

// fakePod is what Kubernetes pod discovery would report about one pod.
type fakePod struct {
	name, namespace, phase, addr string
	labels, annotations          map[string]string
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// podsAsFileSD stands in for kubernetes_sd_configs, which the Debian build
// of Prometheus leaves out: each such section is replaced by a file_sd
// config whose targets carry the __meta_kubernetes_* labels pod discovery
// would set, so the job's relabelling still runs as written.
func podsAsFileSD(t testing.TB, doc map[string]any, dir string, pods []fakePod) {
	t.Helper()
	var groups []map[string]any
	for _, p := range pods {
		l := map[string]string{
			"__meta_kubernetes_namespace": p.namespace,
			"__meta_kubernetes_pod_name":  p.name,
			"__meta_kubernetes_pod_phase": p.phase,
		}
		for k, v := range p.labels {
			l["__meta_kubernetes_pod_label_"+invalidLabelChars.ReplaceAllString(k, "_")] = v
		}
		for k, v := range p.annotations {
			l["__meta_kubernetes_pod_annotation_"+invalidLabelChars.ReplaceAllString(k, "_")] = v
		}
		groups = append(groups, map[string]any{"targets": []string{p.addr}, "labels": l})
	}
	b, err := json.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pods.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for _, sc := range doc["scrape_configs"].([]any) {
		m := sc.(map[string]any)
		sds, ok := m["kubernetes_sd_configs"].([]any)
		if !ok {
			continue
		}
		for _, sd := range sds {
			if role := sd.(map[string]any)["role"]; role != "pod" {
				t.Fatalf("kubernetes_sd_configs role %v: only pod discovery can be stood in for", role)
			}
		}
		delete(m, "kubernetes_sd_configs")
		m["file_sd_configs"] = []any{map[string]any{"files": []any{file}}}
		replaced++
	}
	if replaced == 0 {
		t.Fatal("no kubernetes_sd_configs to stand in for")
	}
}

// k8sManifests returns every object the kustomization lists, by kind/name.
func k8sManifests(t testing.TB) (kustomization, map[string]*yaml.Node) {
	t.Helper()
	var k kustomization
	loadYAML(t, "kubernetes/kustomization.yaml", &k)
	objs := map[string]*yaml.Node{}
	for _, res := range k.Resources {
		for _, doc := range yamlDocs(t, "kubernetes/"+res) {
			var hdr struct {
				Kind     string
				Metadata struct{ Name string }
			}
			if err := doc.Decode(&hdr); err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			objs[hdr.Kind+"/"+hdr.Metadata.Name] = doc
		}
	}
	return k, objs
}

type kustomization struct {
	Namespace       string
	Resources       []string
	SecretGenerator []struct {
		Name  string
		Files []string
	} `yaml:"secretGenerator"`
}

// secretKeys returns the keys of a generated Secret: a "key=path" entry
// names its key, a bare path is keyed by its base name.
func (k kustomization) secretKeys(name string) []string {
	for _, g := range k.SecretGenerator {
		if g.Name != name {
			continue
		}
		var keys []string
		for _, f := range g.Files {
			key, _, found := strings.Cut(f, "=")
			if !found {
				key = path.Base(f)
			}
			keys = append(keys, key)
		}
		return keys
	}
	return nil
}

func k8sObject(t testing.TB, objs map[string]*yaml.Node, id string, v any) {
	t.Helper()
	n, ok := objs[id]
	if !ok {
		t.Fatalf("kubernetes: no %s among the kustomization's resources", id)
	}
	if err := n.Decode(v); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
}

type deployment struct {
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		Template struct {
			Metadata struct {
				Labels      map[string]string
				Annotations map[string]string
			}
			Spec struct {
				ServiceAccountName string `yaml:"serviceAccountName"`
				Containers         []container
				Volumes            []struct {
					Name      string
					ConfigMap *struct{ Name string } `yaml:"configMap"`
					Secret    *struct {
						SecretName string `yaml:"secretName"`
					}
				}
			}
		}
	}
}

type container struct {
	Name  string
	Image string
	Args  []string
	Ports []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Env []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

func (c container) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// port resolves a named or numbered container port.
func (c container) port(t testing.TB, p string) int {
	t.Helper()
	for _, cp := range c.Ports {
		if cp.Name == p || strconv.Itoa(cp.ContainerPort) == p {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, p)
	return 0
}

// mountedAt returns the volume mounted at dir and whether it is read-only.
func (c container) mountedAt(dir string) (string, bool) {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) {
			return m.Name, m.ReadOnly
		}
	}
	return "", false
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func TestPrometheusConfigsPassPromtool(t *testing.T) {
	rules := map[string][]byte{"rules.yml": readFile(t, "prometheus/rules.yml")}

	t.Run("prometheus.yml", func(t *testing.T) {
		named := checkConfig(t, readFile(t, "prometheus/prometheus.yml"), rules, nil)
		if len(named) != 1 {
			t.Errorf("credentials files %v, want the one scrape job's", named)
		}
	})

	t.Run("kubernetes ConfigMap", func(t *testing.T) {
		k, objs := k8sManifests(t)
		var cm struct{ Data map[string]string }
		k8sObject(t, objs, "ConfigMap/prometheus-config", &cm)
		var bridge deployment
		k8sObject(t, objs, "Deployment/metricsbridge", &bridge)
		pod := bridge.Spec.Template.Metadata
		// The ConfigMap's own rules.yml is what that Prometheus loads.
		checkConfig(t, []byte(cm.Data["prometheus.yml"]), map[string][]byte{"rules.yml": []byte(cm.Data["rules.yml"])},
			func(doc map[string]any, dir string) {
				podsAsFileSD(t, doc, dir, []fakePod{{
					name: "metricsbridge-0", namespace: k.Namespace, phase: "Running",
					addr: "10.0.0.1:4444", labels: pod.Labels, annotations: pod.Annotations,
				}})
			})
	})

	t.Run("splunk collector receiver", func(t *testing.T) {
		var col struct {
			Receivers struct {
				Prometheus struct {
					Config map[string]any
				}
			}
		}
		loadYAML(t, "splunk/otel-collector.yaml", &col)
		cfg, err := yaml.Marshal(col.Receivers.Prometheus.Config)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, cfg, nil, nil)
	})
}

func TestRulesPassPromtool(t *testing.T) {
	if out, err := runPromtool(t, "prometheus", "check", "rules", "rules.yml"); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := runPromtool(t, "prometheus", "test", "rules", "rules_test.yml"); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// The unit tests must notice a broken rule: each mutation below changes
// what one alert or recording rule does, and promtool test rules has to
// fail on it.
func TestRuleTestsCatchMutations(t *testing.T) {
	rules := string(readFile(t, "prometheus/rules.yml"))
	tests := readFile(t, "prometheus/rules_test.yml")
	for _, tc := range []struct{ name, from, to string }{
		{"5xx ratio threshold", "job:http_requests_5xx:ratio_rate5m > 0.05", "job:http_requests_5xx:ratio_rate5m > 0.5"},
		{"4xx counted as errors", `status=~"5.."}[5m]))`, `status=~"[45].."}[5m]))`},
		{"5xx ratio without the zero term", "sum by (job) (rate(http_requests_total[5m])) * 0", "sum by (job) (rate(http_requests_total{status=\"none\"}[5m])) * 0"},
		{"p99 threshold", "p99_rate5m > 1", "p99_rate5m > 3"},
		{"p99 computed as p95", "histogram_quantile(0.99, sum by (job, le)", "histogram_quantile(0.95, sum by (job, le)"},
		{"native p99 computed as p95", "histogram_quantile(0.99, sum by (job) (", "histogram_quantile(0.95, sum by (job) ("},
		{"target down delay", "up{job=\"mcp-gateway\"} == 0\n        for: 2m", "up{job=\"mcp-gateway\"} == 0\n        for: 5m"},
		{"target missing on the wrong job", `absent(up{job="mcp-gateway"})`, `absent(up{job="gateway"})`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(rules, tc.from) != 1 {
				t.Fatalf("rules.yml must contain %q exactly once", tc.from)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(strings.Replace(rules, tc.from, tc.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "rules_test.yml"), tests, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := runPromtool(t, dir, "check", "rules", "rules.yml"); err != nil {
				t.Fatalf("the mutation itself is invalid: %v", err)
			}
			if out, err := runPromtool(t, dir, "test", "rules", "rules_test.yml"); err == nil {
				t.Errorf("promtool test rules passed with the mutation:\n%s", out)
			}
		})
	}
}

// The Kubernetes ConfigMap carries a copy of rules.yml; a copy that drifts
// would alert differently in the cluster than everywhere else.
func TestKubernetesRulesMatchPrometheusRules(t *testing.T) {
	_, objs := k8sManifests(t)
	var cm struct{ Data map[string]string }
	k8sObject(t, objs, "ConfigMap/prometheus-config", &cm)
	var want, got any
	loadYAML(t, "prometheus/rules.yml", &want)
	decodeYAML(t, "ConfigMap rules.yml", []byte(cm.Data["rules.yml"]), &got)
	if !reflect.DeepEqual(got, want) {
		t.Error("kubernetes/prometheus-config.yaml rules.yml differs from prometheus/rules.yml")
	}
}

// checkScrapeJob holds a scrape job to the shared facts: the job name, the
// metrics path, a bearer token read from a file called metrics-token.jwt.
// It returns the credentials file.
func checkScrapeJob(t *testing.T, sc scrapeConfig) string {
	t.Helper()
	if sc.JobName != jobName {
		t.Errorf("job_name %q, want %q", sc.JobName, jobName)
	}
	if sc.MetricsPath != metricsPath {
		t.Errorf("job %s: metrics_path %q, want %q", sc.JobName, sc.MetricsPath, metricsPath)
	}
	if sc.Authorization == nil || sc.Authorization.Type != "Bearer" {
		t.Fatalf("job %s: want authorization of type Bearer", sc.JobName)
	}
	f := sc.Authorization.CredentialsFile
	if !path.IsAbs(f) || path.Base(f) != tokenFile {
		t.Errorf("job %s: credentials_file %q, want an absolute path to %s", sc.JobName, f, tokenFile)
	}
	return f
}

// checkTarget holds host:port to the bridge's port and returns the host.
func checkTarget(t *testing.T, where, hostport string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%s: target %q: %v", where, hostport, err)
	}
	if port != strconv.Itoa(bridgePort) {
		t.Errorf("%s: target %q, want port %d", where, hostport, bridgePort)
	}
	return host
}

// checkURL holds a scrape URL to the bridge's path and port.
func checkURL(t *testing.T, where, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if u.Scheme != "http" || u.Path != metricsPath {
		t.Errorf("%s: %q, want http://HOST:%d%s", where, raw, bridgePort, metricsPath)
	}
	checkTarget(t, where, u.Host)
}

type composeService struct {
	Build *struct {
		Context    string
		Dockerfile string
	}
	Command     []string
	Environment map[string]string
	Ports       []string
	Volumes     []string
}

// mount is one volume of a Compose service.
type mount struct {
	source string
	ro     bool
}

// volumes maps each container path of a service to what is mounted there.
func (s composeService) volumes(t testing.TB) map[string]mount {
	t.Helper()
	m := map[string]mount{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("compose volume %q: want SOURCE:TARGET[:ro]", v)
		}
		m[parts[1]] = mount{source: parts[0], ro: len(parts) == 3 && parts[2] == "ro"}
	}
	return m
}

// publishes reports whether the service publishes container port p.
func (s composeService) publishes(p int) bool {
	for _, spec := range s.Ports {
		i := strings.LastIndex(spec, ":")
		if spec[i+1:] == strconv.Itoa(p) {
			return true
		}
	}
	return false
}

func TestComposeAgreesWithPrometheusAndGrafana(t *testing.T) {
	var compose struct {
		Services map[string]composeService
		Volumes  map[string]any
	}
	loadYAML(t, "docker-compose.yml", &compose)
	svc := func(name string) composeService {
		s, ok := compose.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
		return s
	}

	bridge := svc("metricsbridge")
	for k, want := range map[string]string{"ENABLE_METRICS": "true", "HOST": "0.0.0.0", "PORT": strconv.Itoa(bridgePort)} {
		if got := bridge.Environment[k]; got != want {
			t.Errorf("metricsbridge: %s=%q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(bridge.Environment["JWT_SECRET_KEY"], "${JWT_SECRET_KEY") {
		t.Errorf("metricsbridge: JWT_SECRET_KEY=%q, want it taken from the environment", bridge.Environment["JWT_SECRET_KEY"])
	}
	if !bridge.publishes(bridgePort) {
		t.Errorf("metricsbridge: ports %v do not publish %d", bridge.Ports, bridgePort)
	}
	if bridge.Build == nil {
		t.Fatal("metricsbridge: no build section")
	}
	// The context is relative to the Compose file, the Dockerfile to the context.
	if _, err := os.Stat(filepath.Join(bridge.Build.Context, bridge.Build.Dockerfile)); err != nil {
		t.Errorf("metricsbridge: build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bridge.Build.Context, "go.mod")); err != nil {
		t.Errorf("metricsbridge: build context is not the module root: %v", err)
	}

	// Prometheus scrapes the bridge by its service name, with the token the
	// scrape-token service writes into a volume mounted read-only.
	prom := svc("prometheus")
	configPath := flagValue(prom.Command, "--config.file")
	mounts := prom.volumes(t)
	cfgMount, ok := mounts[configPath]
	if !ok || cfgMount.source != "./prometheus/prometheus.yml" {
		t.Fatalf("prometheus: --config.file=%s is not ./prometheus/prometheus.yml (mounts %v)", configPath, prom.Volumes)
	}
	var cfg promConfig
	loadYAML(t, "prometheus/prometheus.yml", &cfg)
	for _, rf := range cfg.RuleFiles {
		if m, ok := mounts[path.Join(path.Dir(configPath), rf)]; !ok || m.source != "./prometheus/"+rf {
			t.Errorf("prometheus: rule file %s is not mounted next to the configuration", rf)
		}
	}
	if len(cfg.ScrapeConfigs) != 1 || len(cfg.ScrapeConfigs[0].StaticConfigs) != 1 || len(cfg.ScrapeConfigs[0].StaticConfigs[0].Targets) != 1 {
		t.Fatalf("prometheus.yml: want one job with one static target, got %+v", cfg.ScrapeConfigs)
	}
	sc := cfg.ScrapeConfigs[0]
	cred := checkScrapeJob(t, sc)
	host := checkTarget(t, "prometheus.yml", sc.StaticConfigs[0].Targets[0])
	if host != "metricsbridge" {
		t.Errorf("prometheus.yml: target host %q is not the bridge's Compose service", host)
	}
	tokenMount, ok := mounts[path.Dir(cred)]
	if !ok || !tokenMount.ro {
		t.Fatalf("prometheus: the directory of credentials_file %s is not mounted read-only (mounts %v)", cred, prom.Volumes)
	}
	if _, named := compose.Volumes[tokenMount.source]; !named {
		t.Fatalf("prometheus: token directory comes from %q, want a named volume", tokenMount.source)
	}
	writer := svc("scrape-token")
	var writerDir string
	for dir, m := range writer.volumes(t) {
		if m.source == tokenMount.source && !m.ro {
			writerDir = dir
		}
	}
	script := strings.Join(writer.Command, " ")
	if writerDir == "" || !strings.Contains(script, "token create") || !strings.Contains(script, "mv ") ||
		!strings.HasSuffix(script, path.Join(writerDir, path.Base(cred))) {
		t.Errorf("scrape-token: %q does not mint the token into %s of volume %s", script, path.Join(writerDir, path.Base(cred)), tokenMount.source)
	}
	if writer.Environment["JWT_SECRET_KEY"] != bridge.Environment["JWT_SECRET_KEY"] {
		t.Error("scrape-token and metricsbridge use different JWT_SECRET_KEY values")
	}
	for _, flag := range []string{"--storage.tsdb.retention.time", "--storage.tsdb.retention.size"} {
		if flagValue(prom.Command, flag) == "" {
			t.Errorf("prometheus: no %s", flag)
		}
	}

	// Grafana reads its provisioning, and the dashboard lies where the
	// dashboard provider looks.
	graf := svc("grafana")
	gm := graf.volumes(t)
	if gm["/etc/grafana/provisioning"].source != "./grafana/provisioning" {
		t.Errorf("grafana: provisioning not mounted at /etc/grafana/provisioning: %v", graf.Volumes)
	}
	var providers struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	loadYAML(t, "grafana/provisioning/dashboards/metricsbridge.yml", &providers)
	if providers.APIVersion != 1 || len(providers.Providers) != 1 || providers.Providers[0].Type != "file" {
		t.Fatalf("dashboard provisioning: %+v", providers)
	}
	found := false
	for target, m := range gm {
		if m.source == "./grafana/dashboard.json" && path.Dir(target) == providers.Providers[0].Options.Path {
			found = true
		}
	}
	if !found {
		t.Errorf("grafana: dashboard.json is not mounted in %s", providers.Providers[0].Options.Path)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Type     string
			UID      string
			URL      string
			JSONData struct {
				TimeInterval                string `yaml:"timeInterval"`
				ExemplarTraceIDDestinations []struct {
					Name          string
					DatasourceUID string `yaml:"datasourceUid"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		}
	}
	loadYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 2 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("datasource provisioning: %+v", ds)
	}
	// Exemplars carry the trace ID as trace_id (the OTel exporter's
	// label); the link must name that label and a provisioned tracing
	// data source.
	dest := ds.Datasources[0].JSONData.ExemplarTraceIDDestinations
	if len(dest) != 1 || dest[0].Name != "trace_id" || dest[0].DatasourceUID != ds.Datasources[1].UID ||
		!slices.Contains([]string{"tempo", "jaeger", "zipkin"}, ds.Datasources[1].Type) {
		t.Errorf("exemplar link %+v to data source %+v", dest, ds.Datasources[1])
	}
	u, err := url.Parse(ds.Datasources[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := compose.Services[u.Hostname()]; u.Hostname() != "prometheus" || !ok || u.Port() != "9090" {
		t.Errorf("datasource url %q is not the Compose prometheus service", u)
	}
	var global struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		}
	}
	loadYAML(t, "prometheus/prometheus.yml", &global)
	if ds.Datasources[0].JSONData.TimeInterval != global.Global.ScrapeInterval {
		t.Errorf("datasource timeInterval %q differs from scrape_interval %q", ds.Datasources[0].JSONData.TimeInterval, global.Global.ScrapeInterval)
	}
}

func TestKubernetesManifestsAgree(t *testing.T) {
	k, objs := k8sManifests(t)

	var bridge deployment
	k8sObject(t, objs, "Deployment/metricsbridge", &bridge)
	pod := bridge.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("metricsbridge: want one container, got %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if c.env("ENABLE_METRICS") != "true" || c.env("HOST") != "0.0.0.0" || c.env("PORT") != strconv.Itoa(bridgePort) {
		t.Errorf("metricsbridge: env ENABLE_METRICS=%q HOST=%q PORT=%q", c.env("ENABLE_METRICS"), c.env("HOST"), c.env("PORT"))
	}
	if got := c.port(t, "http"); got != bridgePort {
		t.Errorf("metricsbridge: port http is %d, want %d", got, bridgePort)
	}
	var secretRef *struct{ Name, Key string }
	for _, e := range c.Env {
		if e.Name == "JWT_SECRET_KEY" && e.ValueFrom != nil {
			secretRef = e.ValueFrom.SecretKeyRef
		}
	}
	if secretRef == nil || !slices.Contains(k.secretKeys(secretRef.Name), secretRef.Key) {
		t.Errorf("metricsbridge: JWT_SECRET_KEY is not a key of a generated Secret (%+v, generators %+v)", secretRef, k.SecretGenerator)
	}
	for _, p := range []struct {
		kind, path string
		probe      *probe
	}{{"liveness", "/health", c.LivenessProbe}, {"readiness", "/ready", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || c.port(t, p.probe.HTTPGet.Port) != bridgePort {
			t.Errorf("metricsbridge: %s probe is not GET %s on %d", p.kind, p.path, bridgePort)
		}
	}
	ann := pod.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != metricsPath || ann["prometheus.io/port"] != strconv.Itoa(bridgePort) {
		t.Errorf("metricsbridge: pod annotations %v", ann)
	}
	if !reflect.DeepEqual(bridge.Spec.Selector.MatchLabels, map[string]string{"app": pod.Metadata.Labels["app"]}) {
		t.Errorf("metricsbridge: selector %v does not select the pod labels %v", bridge.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}

	var svc struct {
		Spec struct {
			Selector map[string]string
			Ports    []struct {
				Port       int
				TargetPort string `yaml:"targetPort"`
			}
		}
	}
	k8sObject(t, objs, "Service/metricsbridge", &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != bridgePort || c.port(t, svc.Spec.Ports[0].TargetPort) != bridgePort {
		t.Errorf("Service/metricsbridge ports %+v, want %d to the container's %d", svc.Spec.Ports, bridgePort, bridgePort)
	}
	for key, v := range svc.Spec.Selector {
		if pod.Metadata.Labels[key] != v {
			t.Errorf("Service/metricsbridge selector %v does not match the pod labels %v", svc.Spec.Selector, pod.Metadata.Labels)
		}
	}

	// Prometheus: the job discovers exactly these pods and reads the token
	// where the Secret is mounted.
	var cm struct{ Data map[string]string }
	k8sObject(t, objs, "ConfigMap/prometheus-config", &cm)
	var cfg promConfig
	decodeYAML(t, "ConfigMap prometheus.yml", []byte(cm.Data["prometheus.yml"]), &cfg)
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("ConfigMap prometheus.yml: want one scrape job, got %d", len(cfg.ScrapeConfigs))
	}
	sc := cfg.ScrapeConfigs[0]
	cred := checkScrapeJob(t, sc)
	if len(sc.KubernetesSDConfigs) != 1 || sc.KubernetesSDConfigs[0].Role != "pod" ||
		!slices.Equal(sc.KubernetesSDConfigs[0].Namespaces.Names, []string{k.Namespace}) {
		t.Errorf("kubernetes_sd_configs %+v, want role pod in namespace %s", sc.KubernetesSDConfigs, k.Namespace)
	}
	meta := map[string]string{
		"__meta_kubernetes_pod_label_app":                       pod.Metadata.Labels["app"],
		"__meta_kubernetes_pod_annotation_prometheus_io_scrape": ann["prometheus.io/scrape"],
		"__meta_kubernetes_pod_annotation_prometheus_io_path":   ann["prometheus.io/path"],
		"__meta_kubernetes_pod_annotation_prometheus_io_port":   ann["prometheus.io/port"],
		"__meta_kubernetes_pod_phase":                           "Running",
		"__meta_kubernetes_namespace":                           k.Namespace,
		"__meta_kubernetes_pod_name":                            "metricsbridge-0",
	}
	keeps := 0
	for _, rc := range sc.RelabelConfigs {
		if rc.Action != "keep" {
			continue
		}
		keeps++
		var vals []string
		for _, l := range rc.SourceLabels {
			v, ok := meta[l]
			if !ok {
				t.Errorf("keep rule on %s: not a label this pod has", l)
			}
			vals = append(vals, v)
		}
		// Prometheus anchors relabel regexps at both ends.
		if !regexp.MustCompile("^(?:" + rc.Regex + ")$").MatchString(strings.Join(vals, ";")) {
			t.Errorf("keep rule %v =~ %q drops the bridge's pods", rc.SourceLabels, rc.Regex)
		}
	}
	if keeps < 2 {
		t.Errorf("want keep rules on both the app label and the scrape annotation, got %d", keeps)
	}

	var prom deployment
	k8sObject(t, objs, "Deployment/prometheus", &prom)
	pc := prom.Spec.Template.Spec.Containers[0]
	volumeOf := func(name string) (configMap, secret string) {
		for _, v := range prom.Spec.Template.Spec.Volumes {
			if v.Name == name {
				if v.ConfigMap != nil {
					configMap = v.ConfigMap.Name
				}
				if v.Secret != nil {
					secret = v.Secret.SecretName
				}
			}
		}
		return configMap, secret
	}
	configFile := flagValue(pc.Args, "--config.file")
	vol, _ := pc.mountedAt(path.Dir(configFile))
	if name, _ := volumeOf(vol); name != "prometheus-config" || path.Base(configFile) != "prometheus.yml" {
		t.Errorf("prometheus: --config.file=%s is not prometheus.yml of ConfigMap prometheus-config", configFile)
	}
	vol, ro := pc.mountedAt(path.Dir(cred))
	_, secret := volumeOf(vol)
	if !ro || !slices.Contains(k.secretKeys(secret), path.Base(cred)) {
		t.Errorf("prometheus: credentials_file %s is not key %s of a generated Secret mounted read-only (volume %q, secret %q)", cred, path.Base(cred), vol, secret)
	}
	for _, flag := range []string{"--storage.tsdb.retention.time", "--storage.tsdb.retention.size"} {
		if flagValue(pc.Args, flag) == "" {
			t.Errorf("prometheus: no %s", flag)
		}
	}

	// Pod discovery needs list and watch on pods, granted to Prometheus's
	// service account.
	var role struct {
		Rules []struct {
			APIGroups []string `yaml:"apiGroups"`
			Resources []string
			Verbs     []string
		}
	}
	k8sObject(t, objs, "Role/prometheus-discovery", &role)
	granted := false
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "pods") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
			granted = true
		}
	}
	var binding struct {
		RoleRef  struct{ Kind, Name string } `yaml:"roleRef"`
		Subjects []struct{ Kind, Name string }
	}
	k8sObject(t, objs, "RoleBinding/prometheus-discovery", &binding)
	if !granted || binding.RoleRef.Name != "prometheus-discovery" || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Name != prom.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("Prometheus's service account %q may not list and watch pods", prom.Spec.Template.Spec.ServiceAccountName)
	}
}

func TestVendorConfigsScrapeTheEndpoint(t *testing.T) {
	t.Run("datadog", func(t *testing.T) {
		var dd struct {
			InitConfig any `yaml:"init_config"`
			Instances  []struct {
				OpenMetricsEndpoint string `yaml:"openmetrics_endpoint"`
				Namespace           string
				Metrics             []string
				AuthToken           struct {
					Reader struct{ Type, Path string }
					Writer struct{ Type, Name, Value string }
				} `yaml:"auth_token"`
			}
		}
		loadYAML(t, "datadog/conf.d/openmetrics.d/conf.yaml", &dd)
		if len(dd.Instances) != 1 {
			t.Fatalf("want one instance, got %d", len(dd.Instances))
		}
		in := dd.Instances[0]
		checkURL(t, "openmetrics_endpoint", in.OpenMetricsEndpoint)
		r, w := in.AuthToken.Reader, in.AuthToken.Writer
		if r.Type != "file" || !path.IsAbs(r.Path) || path.Base(r.Path) != tokenFile {
			t.Errorf("auth_token.reader %+v, want type file reading an absolute path to %s", r, tokenFile)
		}
		// The writer replaces the placeholder <TOKEN> by the file's content.
		if w.Type != "header" || w.Name != "Authorization" || w.Value != "Bearer <TOKEN>" {
			t.Errorf("auth_token.writer %+v, want header Authorization: Bearer <TOKEN>", w)
		}
		for _, name := range []string{"http_requests", "http_request_duration_seconds", "app_info"} {
			matched := false
			for _, re := range in.Metrics {
				matched = matched || regexp.MustCompile("^(?:"+re+")$").MatchString(name)
			}
			if !matched {
				t.Errorf("metrics %v collect no %s", in.Metrics, name)
			}
		}
	})

	t.Run("newrelic", func(t *testing.T) {
		var nr struct {
			Integrations []struct {
				Name   string
				Config struct {
					Standalone bool
					Targets    []struct {
						Description string
						URLs        []string
					}
					BearerTokenFile string `yaml:"bearer_token_file"`
				}
			}
		}
		loadYAML(t, "newrelic/nri-prometheus-config.yml", &nr)
		if len(nr.Integrations) != 1 || nr.Integrations[0].Name != "nri-prometheus" {
			t.Fatalf("want one nri-prometheus integration, got %+v", nr.Integrations)
		}
		c := nr.Integrations[0].Config
		if len(c.Targets) != 1 || len(c.Targets[0].URLs) != 1 {
			t.Fatalf("want one target URL, got %+v", c.Targets)
		}
		checkURL(t, "targets.urls", c.Targets[0].URLs[0])
		if !path.IsAbs(c.BearerTokenFile) || path.Base(c.BearerTokenFile) != tokenFile {
			t.Errorf("bearer_token_file %q, want an absolute path to %s", c.BearerTokenFile, tokenFile)
		}
	})

	t.Run("splunk", func(t *testing.T) {
		var col struct {
			Receivers struct {
				Prometheus struct {
					Config promConfig
				}
			}
			Exporters map[string]struct {
				MetricsEndpoint string `yaml:"metrics_endpoint"`
				Headers         map[string]string
			}
			Service struct {
				Pipelines map[string]struct {
					Receivers, Processors, Exporters []string
				}
			}
		}
		loadYAML(t, "splunk/otel-collector.yaml", &col)
		scs := col.Receivers.Prometheus.Config.ScrapeConfigs
		if len(scs) != 1 || len(scs[0].StaticConfigs) != 1 || len(scs[0].StaticConfigs[0].Targets) != 1 {
			t.Fatalf("want one job with one static target, got %+v", scs)
		}
		checkScrapeJob(t, scs[0])
		checkTarget(t, "prometheus receiver", scs[0].StaticConfigs[0].Targets[0])
		exp, ok := col.Exporters["otlp_http/splunk"]
		if !ok {
			t.Fatal("no otlp_http/splunk exporter")
		}
		if exp.MetricsEndpoint != "https://ingest.${env:SPLUNK_REALM}.signalfx.com/v2/datapoint/otlp" || exp.Headers["X-SF-Token"] != "${env:SPLUNK_ACCESS_TOKEN}" {
			t.Errorf("otlp_http/splunk: endpoint %q, X-SF-Token %q: want the realm and token from the environment", exp.MetricsEndpoint, exp.Headers["X-SF-Token"])
		}
		p := col.Service.Pipelines["metrics"]
		if !slices.Contains(p.Receivers, "prometheus") || !slices.Contains(p.Exporters, "otlp_http/splunk") {
			t.Errorf("metrics pipeline %+v does not connect the prometheus receiver to otlp_http/splunk", p)
		}
	})
}

// Grafana's dashboard model, as far as the checks need it.
type dashboardJSON struct {
	UID           string
	Title         string
	SchemaVersion int `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string
			Type       string
			Query      any
			Datasource *datasourceRef
			Current    struct{ Value any }
			AllValue   string `json:"allValue"`
		}
	}
	Panels []struct {
		ID         int
		Type       string
		Title      string
		Datasource *datasourceRef
		GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
		Targets    []struct {
			RefID      string `json:"refId"`
			Expr       string
			Exemplar   bool
			Instant    bool
			Range      bool
			Datasource *datasourceRef
		}
	}
}

type datasourceRef struct{ Type, UID string }

func loadDashboard(t testing.TB) dashboardJSON {
	t.Helper()
	var d dashboardJSON
	dec := json.NewDecoder(bytes.NewReader(readFile(t, "grafana/dashboard.json")))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// unprefixed finds a metric name not preceded by the ${prefix} variable.
var unprefixed = regexp.MustCompile(`(^|[^}])\b(http_request|app_info|metricsbridge_)`)

func TestDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 38 {
		t.Errorf("schemaVersion %d: Grafana 10 writes 38 or later", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}

	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	ds, ok := vars["datasource"]
	if !ok || d.Templating.List[ds].Type != "datasource" || d.Templating.List[ds].Query != "prometheus" {
		t.Error("want a datasource variable of type datasource over prometheus")
	}
	pf, ok := vars["prefix"]
	if !ok || d.Templating.List[pf].Type != "textbox" || d.Templating.List[pf].Query != "" || d.Templating.List[pf].Current.Value != "" {
		t.Error("want a textbox variable prefix whose default is empty")
	}
	if j, ok := vars["job"]; ok {
		v := d.Templating.List[j]
		if v.Datasource == nil || v.Datasource.UID != "${datasource}" || !strings.Contains(jsonString(t, v.Query), "${prefix}http_requests_total") {
			t.Errorf("job variable must query ${prefix}http_requests_total through ${datasource}: %+v", v)
		}
	}

	want := map[string]string{
		"Request rate":             "timeseries",
		"Error rate":               "timeseries",
		"Latency percentiles":      "timeseries",
		"Status code distribution": "piechart",
		"Top endpoints":            "table",
	}
	if len(d.Panels) != len(want) {
		t.Errorf("%d panels, want the Python gateway's five", len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if typ, ok := want[p.Title]; !ok || typ != p.Type {
			t.Errorf("panel %q of type %s is not one of %v", p.Title, p.Type, want)
		}
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v does not fit Grafana's 24 columns", p.Title, p.GridPos)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: datasource %+v, want ${datasource}", p.Title, q.RefID, q.Datasource)
			}
			if !strings.Contains(q.Expr, "${prefix}http_request") {
				t.Errorf("panel %q query %s does not use ${prefix}: %s", p.Title, q.RefID, q.Expr)
			}
			if m := unprefixed.FindString(q.Expr); m != "" {
				t.Errorf("panel %q query %s names a series without ${prefix} (%q): %s", p.Title, q.RefID, m, q.Expr)
			}
			if !strings.Contains(q.Expr, `job=~"$job"`) {
				t.Errorf("panel %q query %s ignores the job variable: %s", p.Title, q.RefID, q.Expr)
			}
			// The latency panel shows the trace behind a slow request.
			if want := p.Title == "Latency percentiles"; q.Exemplar != want {
				t.Errorf("panel %q query %s: exemplar=%v, want %v", p.Title, q.RefID, q.Exemplar, want)
			}
			// One number per slice or row, over the dashboard's range.
			if single := p.Type == "piechart" || p.Type == "table"; single != q.Instant || single == q.Range {
				t.Errorf("panel %q query %s: instant=%v range=%v", p.Title, q.RefID, q.Instant, q.Range)
			}
		}
	}
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
