package otelmetrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := ConfigFromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Enabled || c.Namespace != "default" || c.Subsystem != "" || c.Host != "127.0.0.1" || c.Port != 4444 ||
		c.CardinalityLimit != 2000 || len(c.ExcludedHandlers) != 0 || len(c.CustomLabels) != 0 ||
		!slices.Equal(c.LatencyBuckets, []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}) {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	c, err := ConfigFromEnv(env.Map(map[string]string{
		envEnableMetrics:    "TRUE",
		envExcludedHandlers: "/servers/.*/sse,/static/.*",
		envNamespace:        "mcp",
		envSubsystem:        "gateway",
		envCustomLabels:     "env=production,region=us-east-1,url=a=b",
		envLatencyBuckets:   "0.1,0.5,1",
		envCardinalityLimit: "500",
		envHost:             "::1",
		envPort:             "9090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := []Label{{"env", "production"}, {"region", "us-east-1"}, {"url", "a=b"}}
	if !c.Enabled || c.Namespace != "mcp" || c.Subsystem != "gateway" || !slices.Equal(c.CustomLabels, wantLabels) ||
		!slices.Equal(c.LatencyBuckets, []float64{0.1, 0.5, 1}) || c.CardinalityLimit != 500 ||
		c.Host != "::1" || c.Port != 9090 || !slices.Equal(c.ExcludedHandlers, []string{"/servers/.*/sse", "/static/.*"}) {
		t.Errorf("parsed: %+v", c)
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name, variable, value string
		want                  string // substring of the one-line message
	}{
		{"bool", envEnableMetrics, "maybe", `invalid ENABLE_METRICS="maybe": want true or false`},
		{"bad regexp", envExcludedHandlers, "/ok,/servers/(.*/sse", `invalid METRICS_EXCLUDED_HANDLERS="/ok,/servers/(.*/sse": item 2 is not a valid Go regular expression: missing closing ) in pattern "/servers/(.*/sse"`},
		{"empty regexp item", envExcludedHandlers, "/a,,/b", `item 2 of the comma-separated list is empty`},
		{"namespace", envNamespace, "my-app", `invalid METRICS_NAMESPACE="my-app": want a name matching`},
		{"namespace digit", envNamespace, "1app", `invalid METRICS_NAMESPACE="1app"`},
		{"subsystem", envSubsystem, "a.b", `invalid METRICS_SUBSYSTEM="a.b"`},
		{"label without =", envCustomLabels, "env=prod,region", `invalid METRICS_CUSTOM_LABELS="env=prod,region": item 2 is not key=value`},
		{"label key", envCustomLabels, "my-env=prod", `key "my-env" is not a label name`},
		{"reserved label", envCustomLabels, "version=2", `key "version" is reserved`},
		{"reserved prefix", envCustomLabels, "__name__=x", `key "__name__" is reserved`},
		{"duplicate label", envCustomLabels, "env=a,env=b", `key "env" appears more than once`},
		{"empty value", envCustomLabels, "env=", `key "env" has an empty value`},
		{"trailing comma", envCustomLabels, "env=a,", `item 2 of the comma-separated list is empty`},
		{"too many labels", envCustomLabels, manyLabels(21), `21 pairs, at most 20 allowed`},
		{"long value", envCustomLabels, "env=" + strings.Repeat("x", 129), `value of "env" is 129 bytes, at most 128 allowed`},
		{"bucket not a number", envLatencyBuckets, "0.1,fast,1", `invalid METRICS_LATENCY_BUCKETS="0.1,fast,1": "fast" is not a number`},
		{"bucket unsorted", envLatencyBuckets, "0.5,0.1", `strictly increasing (0.1 after 0.5)`},
		{"bucket duplicate", envLatencyBuckets, "0.1,0.1", `strictly increasing`},
		{"bucket negative", envLatencyBuckets, "-1,1", `bucket boundary -1 must be a positive finite number`},
		{"bucket zero", envLatencyBuckets, "0,1", `bucket boundary 0 must be`},
		{"bucket inf", envLatencyBuckets, "1,+Inf", `bucket boundary +Inf must be`},
		{"bucket NaN", envLatencyBuckets, "NaN", `bucket boundary NaN must be`},
		// Accepted before, then renamed or dropped by the exporter.
		{"label key with repeated underscores", envCustomLabels, "a__b=x", `key "a__b" has repeated underscores or nothing but underscores`},
		{"label key of underscores only", envCustomLabels, "_=x", `key "_" has repeated underscores`},
		{"namespace leading underscore", envNamespace, "_x", `invalid METRICS_NAMESPACE="_x": leading, trailing or repeated underscores`},
		{"namespace repeated underscores", envNamespace, "a__b", `leading, trailing or repeated underscores`},
		{"subsystem trailing underscore", envSubsystem, "api_", `invalid METRICS_SUBSYSTEM="api_": leading, trailing`},
		{"subsystem of underscores only", envSubsystem, "_", `leading, trailing or repeated underscores`},
		{"namespace word total", envNamespace, "total", `the word "total" would be removed`},
		{"subsystem word seconds", envSubsystem, "api_seconds", `the word "seconds" would be removed`},
		{"excluded item nests too deeply", envExcludedHandlers, nested(1000, "/x"), `invalid METRICS_EXCLUDED_HANDLERS="((((`},
		{"excluded item nests too deeply, reason", envExcludedHandlers, nested(1000, "/x"), `not a valid Go regular expression: expression nests too deeply`},
		{"bucket out of range", envLatencyBuckets, "0.1,1e400", `"1e400" is out of range for a 64-bit float`},
		{"bucket with a digit separator", envLatencyBuckets, "0.5,1_000", `invalid METRICS_LATENCY_BUCKETS="0.5,1_000": "1_000": digit separators (_) are not accepted`},
		{"bucket hex digit separator", envLatencyBuckets, "0x1_0p0", `digit separators (_) are not accepted`},
		{"buckets past the cap", envLatencyBuckets, ascending(129), `129 boundaries: at most 128 are accepted`},
		{"ten thousand buckets", envLatencyBuckets, ascending(10000), `10000 boundaries: at most 128 are accepted`},
		{"cardinality", envCardinalityLimit, "lots", `invalid METRICS_CARDINALITY_LIMIT="lots": want an integer from 2 to 1000000`},
		{"cardinality low", envCardinalityLimit, "1", `want an integer from 2`},
		{"port", envPort, "70000", `invalid PORT="70000": want an integer from 0 to 65535`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env.Map(map[string]string{tc.variable: tc.value}))
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.variable, tc.value)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.variable) || strings.Contains(msg, "\n") {
				t.Errorf("error %q\nwant one line naming %s and containing %q", msg, tc.variable, tc.want)
			}
		})
	}
}

// Names the exporter keeps as they are, next to the refused ones above.
func TestConfigFromEnvKeepsExportableNames(t *testing.T) {
	c, err := ConfigFromEnv(env.Map(map[string]string{
		envNamespace:    "Total",
		envSubsystem:    "my_seconds2",
		envCustomLabels: "_env=a,env_=b,a_b_c=d",
	}))
	if err != nil {
		t.Fatal(err)
	}
	fams := exercise(t, c, "/")
	info := fams["Total_my_seconds2_app_info"]
	if info == nil || labelString(info.GetMetric()[0].GetLabel(), "") != `{_env="a",a_b_c="d",env_="b",version="fuzz"}` {
		t.Errorf("families %v", fams)
	}
}

// The joined exclusion expression is a group deeper than its items; the
// deepest item the parser takes is still accepted once joined, and works.
func TestExcludedHandlersAtParserLimits(t *testing.T) {
	deepest := nested(999, "/x")
	c, err := ConfigFromEnv(env.Map(map[string]string{envExcludedHandlers: deepest}))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]float64{"/x": 0, "/y": 1} {
		var total float64
		for _, m := range exercise(t, c, path)["http_requests_total"].GetMetric() {
			total += m.GetCounter().GetValue()
		}
		if total != want {
			t.Errorf("%s recorded %v times, want %v", path, total, want)
		}
	}
	c.ExcludedHandlers = []string{nested(1000, "/x")}
	if _, err := NewProvider(c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), envExcludedHandlers) {
		t.Errorf("NewProvider: %v", err)
	}
}

func nested(depth int, inner string) string {
	return strings.Repeat("(", depth) + inner + strings.Repeat(")", depth)
}

func TestNewProviderRefusesWhatTheExporterWouldRename(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"namespace", func(c *Config) { c.Namespace = "shop__x" }, `namespace "shop__x": leading, trailing`},
		{"subsystem", func(c *Config) { c.Subsystem = "total" }, `subsystem "total": the word "total"`},
		{"label key", func(c *Config) { c.CustomLabels = []Label{{"a__b", "x"}} }, `key "a__b" has repeated underscores`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			if _, err := NewProvider(c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewProvider = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestConfigFromEnvReportsEveryBadValue(t *testing.T) {
	_, err := ConfigFromEnv(env.Map(map[string]string{envPort: "x", envLatencyBuckets: "y"}))
	if err == nil || len(strings.Split(err.Error(), "\n")) != 2 {
		t.Errorf("want one line per bad variable, got %v", err)
	}
}

// NewProvider reports every bad setting of a Config built in code at once,
// each checked by the package that owns it.
func TestNewProviderValidatesConfig(t *testing.T) {
	c := DefaultConfig()
	c.LatencyBuckets = []float64{2, 1}
	c.CardinalityLimit = 1
	c.Histograms = "both"
	_, err := NewProvider(c)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("NewProvider: %v", err)
	}
	for _, want := range []string{"cardinality limit 1", `histograms "both"`, "strictly increasing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewProvider's error lacks %q: %v", want, err)
		}
	}
}

func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("k" + string(rune('a'+i)) + "=v")
	}
	return b.String()
}

// ascending returns n strictly increasing boundaries: 1,2,...,n.
func ascending(n int) string {
	b := make([]string, n)
	for i := range b {
		b[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(b, ",")
}

// The cap itself is accepted: it bounds, it does not bite.
func TestLatencyBucketsAtTheCap(t *testing.T) {
	c, err := ConfigFromEnv(env.Map(map[string]string{envLatencyBuckets: ascending(buckets.Max)}))
	if err != nil || len(c.LatencyBuckets) != buckets.Max {
		t.Fatalf("%d boundaries: %d accepted, %v", buckets.Max, len(c.LatencyBuckets), err)
	}
}

// Callers can test a configuration error without naming the module's
// internal packages.
func TestErrConfig(t *testing.T) {
	_, err := ConfigFromEnv(func(k string) (string, bool) { return "x", k == envLatencyBuckets })
	if !errors.Is(err, ErrConfig) {
		t.Errorf("err %v does not wrap ErrConfig", err)
	}
}

// A library user who starts from DefaultConfig and mounts MetricsHandler
// gets metrics; ConfigFromEnv with nothing set keeps the Python
// gateway's 503 until ENABLE_METRICS=true.
func TestDefaultConfigServesMetrics(t *testing.T) {
	fromEnv, err := ConfigFromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := ConfigFromEnv(env.Map(map[string]string{envEnableMetrics: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"DefaultConfig", DefaultConfig(), http.StatusOK},
		{"ConfigFromEnv unset", fromEnv, http.StatusServiceUnavailable},
		{"ConfigFromEnv ENABLE_METRICS=true", enabled, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProvider(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(t.Context())
			mux := http.NewServeMux()
			mux.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
			mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
			h := p.Middleware(mux)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/1", nil))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), `http_requests_total{handler="/users/{id}",method="GET",status="200"} 1`) {
				t.Errorf("no request counted:\n%s", rec.Body)
			}
		})
	}
}
