package examples

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// Query is one PromQL expression shipped in the examples, ready to run.
type Query struct {
	// Source says where the expression is defined, for failure messages.
	Source string
	Expr   string
}

// DashboardVars are the values Grafana substitutes into the dashboard's
// expressions.
type DashboardVars struct {
	Prefix       string // ${prefix}: "" or e.g. "shop_api_"
	Job          string // $job, a regular expression
	RateInterval string // $__rate_interval
	Range        string // $__range
}

// DefaultDashboardVars are what a fresh dashboard on the default namespace
// uses: every job, and windows that suit a test's short history.
var DefaultDashboardVars = DashboardVars{Prefix: "", Job: ".+", RateInterval: "1m", Range: "5m"}

var grafanaVar = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// DashboardQueries returns every query of every panel of
// grafana/dashboard.json with the Grafana variables replaced by v. A
// variable it does not know fails the test, so a new one cannot slip
// through unexpanded.
func DashboardQueries(t testing.TB, v DashboardVars) []Query {
	t.Helper()
	values := map[string]string{
		"prefix":          v.Prefix,
		"job":             v.Job,
		"__rate_interval": v.RateInterval,
		"__range":         v.Range,
	}
	var qs []Query
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			expr := grafanaVar.ReplaceAllStringFunc(tg.Expr, func(m string) string {
				sub := grafanaVar.FindStringSubmatch(m)
				name := sub[1] + sub[2]
				val, ok := values[name]
				if !ok {
					t.Fatalf("panel %q query %s: unknown variable %s", p.Title, tg.RefID, m)
				}
				return val
			})
			qs = append(qs, Query{Source: fmt.Sprintf("panel %q query %s", p.Title, tg.RefID), Expr: expr})
		}
	}
	if len(qs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	return qs
}

// RecordingRuleQueries returns the expression of every recording rule in
// prometheus/rules.yml.
func RecordingRuleQueries(t testing.TB) []Query {
	t.Helper()
	var rf struct {
		Groups []struct {
			Name  string
			Rules []struct{ Record, Alert, Expr string }
		}
	}
	loadYAML(t, "prometheus/rules.yml", &rf)
	var qs []Query
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				qs = append(qs, Query{Source: "recording rule " + r.Record, Expr: strings.TrimSpace(r.Expr)})
			}
		}
	}
	if len(qs) == 0 {
		t.Fatal("rules.yml has no recording rules")
	}
	return qs
}

// ShippedQueries returns the dashboard's queries with DefaultDashboardVars
// followed by the recording rules.
func ShippedQueries(t testing.TB) []Query {
	t.Helper()
	return append(DashboardQueries(t, DefaultDashboardVars), RecordingRuleQueries(t)...)
}

const testSecret = "examples-test-secret-0123456789abcdef"

// programs caches the example programs built by this test binary, by
// package path.
var programs struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
	}
	os.Exit(code)
}

// buildProgram compiles the main package pkg once per test binary.
func buildProgram(t testing.TB, pkg string) string {
	t.Helper()
	programs.mu.Lock()
	defer programs.mu.Unlock()
	if bin, ok := programs.bins[pkg]; ok {
		return bin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	if programs.dir == "" {
		if programs.dir, err = os.MkdirTemp("", "examples"); err != nil {
			t.Fatal(err)
		}
		programs.bins = map[string]string{}
	}
	bin := filepath.Join(programs.dir, path.Base(pkg))
	cmd := exec.Command(goBin, "build", "-o", bin, pkg)
	// The Go example programs are a module of their own, built from its
	// directory.
	if rest, ok := strings.CutPrefix(pkg, "./go/"); ok {
		cmd.Dir, cmd.Args[len(cmd.Args)-1] = "go", "./"+rest
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	programs.bins[pkg] = bin
	return bin
}

// startServemux runs the example program on a free loopback port with the
// given extra environment and returns its address.
func startServemux(t *testing.T, vars ...string) string {
	t.Helper()
	return startProgram(t, "./go/servemux", vars...)
}

// startProgram runs the main package pkg on a free loopback port with the
// scrape-token secret and the given extra environment, and none of the
// bridge's settings from the test's own environment. It returns the
// address once GET /health answers 200.
func startProgram(t *testing.T, pkg string, vars ...string) string {
	t.Helper()
	bin := buildProgram(t, pkg)
	addr := promtest.FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	env := []string{"HOST=" + host, "PORT=" + port, "JWT_SECRET_KEY=" + testSecret}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "METRICS_") && !strings.HasPrefix(name, "JWT_") && !strings.HasPrefix(name, "OTEL_") &&
			!slices.Contains([]string{"HOST", "PORT", "ENABLE_METRICS", "AUTH_REQUIRED", "UPSTREAM_URL", "LOG_FORMAT", "LOG_LEVEL"}, name) {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, vars...)
	logs := &strings.Builder{}
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := path.Base(pkg)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s on %s exited with %v", name, addr, err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s on %s did not stop on SIGINT", name, addr)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("%s on %s:\n%s", name, addr, logs)
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case err := <-done:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s exited early (%v):\n%s", name, err, logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s not healthy after 15s", name, addr)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// traffic sends a fixed mix of successes, client errors and 5xx.
func traffic(t *testing.T, addr string) {
	t.Helper()
	for _, r := range []struct {
		path string
		want int
	}{
		{"/hello/ada", 200}, {"/hello/grace", 200}, {"/hello/linus", 200}, {"/hello/ken", 200},
		{"/status/201", 201}, {"/status/404", 404}, {"/status/503", 503}, {"/status/500", 500},
		{"/nowhere", 404},
	} {
		resp, err := http.Get("http://" + addr + r.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.want {
			t.Fatalf("GET %s: %d, want %d", r.path, resp.StatusCode, r.want)
		}
	}
}

func writeToken(t *testing.T, dir string) string {
	t.Helper()
	tok, err := auth.Mint(auth.MintOptions{Username: "prometheus@monitoring", Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, tokenFile)
	if err := os.WriteFile(f, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func marshalYAML(t testing.TB, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustQuery(t *testing.T, prom *promtest.Server, q Query) []promtest.Sample {
	t.Helper()
	res, err := prom.Query(q.Expr)
	if err != nil {
		t.Fatalf("%s: %v", q.Source, err)
	}
	return res
}

// The shipped prometheus.yml, with only its target, token path, rule path
// and intervals changed, scrapes the example program through its bearer
// token; every dashboard query and recording rule then parses and returns
// data, and the prefix and job variables select what they should.
//
// The latency histogram is stored in each of the three forms Prometheus 3
// keeps it in, one job each: classic _bucket series (mcp-gateway), a native
// histogram scraped from METRICS_HISTOGRAMS=native (native), and the
// classic targets scraped again with convert_classic_histograms_to_nhcb
// (nhcb). The prefixed job is classic. Beside the example program, whose
// requests all fall in the first bucket, the classic jobs scrape the demo
// gateway, whose sleep tool spreads its requests over three buckets.
func TestShippedQueriesReturnData(t *testing.T) {
	plain := startServemux(t)
	native := startServemux(t, "METRICS_HISTOGRAMS=native")
	prefixed := startServemux(t, "METRICS_NAMESPACE=shop", "METRICS_SUBSYSTEM=api")
	demo := startProgram(t, "../cmd/metricsbridge", "ENABLE_METRICS=true")
	traffic(t, plain)
	traffic(t, native)
	traffic(t, prefixed)
	sendTraffic(t, "http://"+demo, true)

	cfg, job := shippedConfig(t, plain)
	job["static_configs"] = []any{map[string]any{"targets": []any{plain, demo}}}
	cfg["global"].(map[string]any)["scrape_native_histograms"] = true
	scrapes := cfg["scrape_configs"].([]any)
	like := func(name string, targets []any, extra map[string]any) map[string]any {
		j := maps.Clone(job)
		j["job_name"] = name
		j["static_configs"] = []any{map[string]any{"targets": targets}}
		maps.Copy(j, extra)
		return j
	}
	// The NHCB job scrapes text, as a Prometheus without native histograms
	// turned on does: the conversion needs no protobuf.
	cfg["scrape_configs"] = append(scrapes,
		like("native", []any{native}, nil),
		like("nhcb", []any{plain, demo}, map[string]any{"convert_classic_histograms_to_nhcb": true, "scrape_native_histograms": false}),
		like("shop", []any{prefixed}, nil))
	prom := promtest.Start(t, marshalYAML(t, cfg))

	prom.WaitFor(t, `count(up == 1) == 6`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
	// A second batch after the first scrape gives every rate() a slope.
	traffic(t, plain)
	traffic(t, native)
	traffic(t, prefixed)
	sendTraffic(t, "http://"+demo, true)
	sent := time.Now()
	// Every job's second batch must be in, not just one job's.
	for _, q := range []string{
		`count(sum by (job) (increase(http_requests_total{status="503"}[1m])) > 0) == 3`,
		`count(sum by (job) (increase(http_requests_total{handler="/tools/invoke",status="500"}[1m])) > 0) == 2`,
		`count(sum by (job) (increase(shop_api_http_requests_total{job="shop",status="503"}[1m])) > 0) == 1`,
	} {
		prom.WaitFor(t, q, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
	}

	for _, tc := range []struct {
		name      string
		vars      DashboardVars
		wantEmpty bool
	}{
		{"classic buckets", DashboardVars{Prefix: "", Job: "mcp-gateway", RateInterval: "1m", Range: "5m"}, false},
		{"native histogram", DashboardVars{Prefix: "", Job: "native", RateInterval: "1m", Range: "5m"}, false},
		{"classic buckets stored as NHCB", DashboardVars{Prefix: "", Job: "nhcb", RateInterval: "1m", Range: "5m"}, false},
		{"prefixed namespace", DashboardVars{Prefix: "shop_api_", Job: "shop", RateInterval: "1m", Range: "5m"}, false},
		{"all jobs", DefaultDashboardVars, false},
		// Each job has only one kind of name, so a query that ignored
		// either variable would find the other job's series.
		{"unprefixed names of the prefixed job", DashboardVars{Prefix: "", Job: "shop", RateInterval: "1m", Range: "5m"}, true},
		{"prefixed names of the default job", DashboardVars{Prefix: "shop_api_", Job: "mcp-gateway", RateInterval: "1m", Range: "5m"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, q := range DashboardQueries(t, tc.vars) {
				res := mustQuery(t, prom, q)
				if tc.wantEmpty {
					if len(res) != 0 {
						t.Errorf("%s: want no data, got %v\n%s", q.Source, res, q.Expr)
					}
					continue
				}
				// Idle routes (/health after start-up) may be 0; the traffic
				// makes some series positive in every panel.
				positive := false
				for _, s := range res {
					if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) || s.Value < 0 {
						t.Errorf("%s: %v = %v\n%s", q.Source, s.Metric, s.Value, q.Expr)
					}
					positive = positive || s.Value > 0
				}
				if !positive {
					t.Errorf("%s: no positive value in %v\n%s", q.Source, res, q.Expr)
				}
			}
		})
	}

	// The latency panel's queries are "classic or native": in each form of
	// storage one side has the value and the other is empty, not an error.
	// Where a selection holds both (a fleet moving from classic to native),
	// the classic side wins rather than the two cancelling out, as they
	// would inside one histogram_quantile.
	t.Run("latency panel in each storage", func(t *testing.T) {
		for _, tc := range []struct {
			name, job string
			classic   bool // the classic side has the value, else the native side
			both      bool // the other side has data too
		}{
			{"classic", "mcp-gateway", true, false},
			{"native", "native", false, false},
			{"NHCB", "nhcb", false, false},
			{"classic and native", "mcp-gateway|native", true, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, q := range DashboardQueries(t, DashboardVars{Prefix: "", Job: tc.job, RateInterval: "1m", Range: "5m"}) {
					if !strings.HasPrefix(q.Source, `panel "Latency percentiles"`) {
						continue
					}
					classicExpr, nativeExpr, ok := strings.Cut(q.Expr, " or ")
					if !ok {
						t.Fatalf("%s is not of the form classic or native: %s", q.Source, q.Expr)
					}
					// One evaluation time: each side equals the whole to the bit.
					at := time.Now()
					panel := queryAt(t, prom, q, at)
					classic := queryAt(t, prom, Query{q.Source + " classic side", classicExpr}, at)
					nativeRes := queryAt(t, prom, Query{q.Source + " native side", nativeExpr}, at)
					has, other := classic, nativeRes
					if !tc.classic {
						has, other = nativeRes, classic
					}
					if len(has) != 1 || len(panel) != 1 || panel[0].Value != has[0].Value || !(has[0].Value > 0) {
						t.Errorf("%s: panel %v, want the one positive value of %v\n%s", q.Source, panel, has, q.Expr)
					}
					if !tc.both && len(other) != 0 {
						t.Errorf("%s: the other side has data where one form is stored: %v", q.Source, other)
					}
					t.Logf("%s: %v", q.Source, panel)
				}
			})
		}
	})

	// The same targets scraped classic and converted to NHCB give the same
	// quantiles, per instance and handler: to the last bits over the
	// cumulative buckets, which both jobs have scraped since the last
	// request. The
	// scrapes themselves, which the two jobs make at different times, are
	// left out.
	t.Run("NHCB quantiles equal classic", func(t *testing.T) {
		const sel = `handler!="/metrics/prometheus"`
		// A 5xx seen is not the last request in: a sleep may end after it.
		// The 100ms cover a request recorded just after its response.
		prom.WaitFor(t, `min(timestamp(up{job=~"mcp-gateway|nhcb"}))`, 30*time.Second, func(s []promtest.Sample) bool {
			return len(s) == 1 && s[0].Value*1000 > float64(sent.Add(100*time.Millisecond).UnixMilli())
		})
		at := time.Now()
		for _, q := range []string{"0.5", "0.75", "0.9", "0.99"} {
			classic := queryAt(t, prom, Query{"classic p" + q, `histogram_quantile(` + q + `, sum by (instance, handler, le) (http_request_duration_seconds_bucket{job="mcp-gateway",` + sel + `}))`}, at)
			nhcb := queryAt(t, prom, Query{"NHCB p" + q, `histogram_quantile(` + q + `, sum by (instance, handler) (http_request_duration_seconds{job="nhcb",` + sel + `}))`}, at)
			c, n := keyed(classic, "instance", "handler"), keyed(nhcb, "instance", "handler")
			// The two interpolations round differently in the last bit.
			if len(c) < 2 || !maps.EqualFunc(c, n, func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Abs(a) }) {
				t.Errorf("quantile %s: classic %v, NHCB %v", q, c, n)
				continue
			}
			t.Logf("quantile %s: classic %v, NHCB %v", q, c, n)
		}
	})

	t.Run("job variable", func(t *testing.T) {
		for prefix, want := range map[string][]string{"": {"mcp-gateway", "native", "nhcb"}, "shop_api_": {"shop"}} {
			got := labelValues(t, prom, "job", prefix+"http_requests_total")
			if !slices.Equal(got, want) {
				t.Errorf("label_values(%shttp_requests_total, job) = %v, want %v", prefix, got, want)
			}
		}
	})

	t.Run("recording rules", func(t *testing.T) {
		for _, q := range RecordingRuleQueries(t) {
			res := mustQuery(t, prom, q)
			for _, job := range []string{jobName, "native", "nhcb"} {
				if !slices.ContainsFunc(res, func(s promtest.Sample) bool { return s.Metric["job"] == job && !math.IsNaN(s.Value) }) {
					t.Errorf("%s: no value for job %s: %v\n%s", q.Source, job, res, q.Expr)
				}
			}
		}
		// The server itself evaluates them, and the alerts, without error.
		prom.WaitFor(t, `job:http_requests_5xx:ratio_rate5m{job="mcp-gateway"} > 0`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
		for _, r := range ruleHealth(t, prom) {
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
			}
		}
	})
}

func queryAt(t *testing.T, prom *promtest.Server, q Query, at time.Time) []promtest.Sample {
	t.Helper()
	res, err := prom.QueryAt(q.Expr, at)
	if err != nil {
		t.Fatalf("%s: %v", q.Source, err)
	}
	return res
}

// shippedConfig returns prometheus/prometheus.yml with only what a test
// must change rewritten: 1s intervals, the rules file's path, the token
// file (a freshly minted token) and the target. It also returns the
// mcp-gateway job, for further changes.
func shippedConfig(t *testing.T, target string) (cfg, job map[string]any) {
	t.Helper()
	rulesPath, err := filepath.Abs("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	loadYAML(t, "prometheus/prometheus.yml", &cfg)
	cfg["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []any{rulesPath}
	job = cfg["scrape_configs"].([]any)[0].(map[string]any)
	job["authorization"].(map[string]any)["credentials_file"] = writeToken(t, t.TempDir())
	job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	return cfg, job
}

func labelValues(t *testing.T, prom *promtest.Server, label, match string) []string {
	t.Helper()
	var r struct {
		Status string
		Data   []string
	}
	getJSON(t, prom.URL+"/api/v1/label/"+label+"/values?match[]="+match, &r)
	if r.Status != "success" {
		t.Fatalf("label values of %s: status %q", label, r.Status)
	}
	return r.Data
}

type ruleState struct {
	Name      string
	Health    string
	LastError string `json:"lastError"`
}

func ruleHealth(t *testing.T, prom *promtest.Server) []ruleState {
	t.Helper()
	var r struct {
		Data struct {
			Groups []struct{ Rules []ruleState }
		}
	}
	getJSON(t, prom.URL+"/api/v1/rules", &r)
	var all []ruleState
	for _, g := range r.Data.Groups {
		all = append(all, g.Rules...)
	}
	if len(all) == 0 {
		t.Fatal("Prometheus loaded no rules")
	}
	return all
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

// The ConfigMap's job, run by a real Prometheus over pods as Kubernetes
// discovery would report them: only the bridge's opted-in, running pod is
// scraped, at the path and port its annotations name, with the token, and
// its series carry the namespace and pod labels.
func TestKubernetesJobScrapesAnnotatedPods(t *testing.T) {
	k, objs := k8sManifests(t)
	var cm struct{ Data map[string]string }
	k8sObject(t, objs, "ConfigMap/prometheus-config", &cm)
	var bridge deployment
	k8sObject(t, objs, "Deployment/metricsbridge", &bridge)
	tmpl := bridge.Spec.Template.Metadata

	addr := startServemux(t)
	_, port, _ := strings.Cut(addr, ":")
	with := func(m map[string]string, k, v string) map[string]string {
		c := map[string]string{}
		for key, val := range m {
			c[key] = val
		}
		c[k] = v
		return c
	}
	// The pod's IP is loopback and its container port the manifest's; the
	// annotation names the port the program really listens on, as it
	// would name 4444 in the cluster.
	ann := with(tmpl.Annotations, "prometheus.io/port", port)
	const kept = "metricsbridge-5d8f7c9b4-x2x7q"
	pods := []fakePod{
		{name: kept, namespace: k.Namespace, phase: "Running", addr: "127.0.0.1:4444", labels: tmpl.Labels, annotations: ann},
		{name: "other-app-0", namespace: k.Namespace, phase: "Running", addr: "127.0.0.1:4444", labels: with(tmpl.Labels, "app", "other-app"), annotations: ann},
		{name: "metricsbridge-opted-out", namespace: k.Namespace, phase: "Running", addr: "127.0.0.1:4444", labels: tmpl.Labels, annotations: with(ann, "prometheus.io/scrape", "false")},
		{name: "metricsbridge-pending", namespace: k.Namespace, phase: "Pending", addr: "127.0.0.1:4444", labels: tmpl.Labels, annotations: ann},
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(cm.Data["rules.yml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	decodeYAML(t, "ConfigMap prometheus.yml", []byte(cm.Data["prometheus.yml"]), &cfg)
	cfg["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []any{filepath.Join(dir, "rules.yml")}
	job := cfg["scrape_configs"].([]any)[0].(map[string]any)
	job["authorization"].(map[string]any)["credentials_file"] = writeToken(t, dir)
	podsAsFileSD(t, cfg, dir, pods)
	prom := promtest.Start(t, marshalYAML(t, cfg))

	up := prom.WaitFor(t, `up{job="mcp-gateway"} == 1`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
	want := map[string]string{"__name__": "up", "job": jobName, "instance": addr, "namespace": k.Namespace, "pod": kept}
	if !maps.Equal(up[0].Metric, want) {
		t.Errorf("scraped target %v, want %v", up[0].Metric, want)
	}
	// Relabelling drops targets before the first scrape, so by now any
	// other target would have an up series too.
	if res := mustQuery(t, prom, Query{"targets", `count(up{job="mcp-gateway"})`}); len(res) != 1 || res[0].Value != 1 {
		t.Errorf("want exactly the one pod scraped, got %v", res)
	}
	prom.WaitFor(t, `http_requests_total{job="mcp-gateway",pod="`+kept+`",handler="/metrics/prometheus",status="200"} > 0`, 30*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 })
}
