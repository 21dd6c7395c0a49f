package otelmetrics

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// The fuzz targets below hold ConfigFromEnv to its contract for the
// variables that take a list or a pattern: a value is either refused with
// one line naming the variable, or it yields a Config that validates, builds
// a Provider, records a request and scrapes into exactly what was asked for.
// "No panic" alone would let a value through that the exporter silently
// renames or drops.

// checkEnvError fails unless err is a single-line *env.Error about name.
func checkEnvError(t *testing.T, err error, name string) {
	t.Helper()
	var e *env.Error
	if !errors.Is(err, env.ErrInvalid) || !errors.As(err, &e) {
		t.Fatalf("error %q is not an *env.Error wrapping env.ErrInvalid", err)
	}
	msg := err.Error()
	if e.Var != name || !strings.Contains(msg, name) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line naming %s", msg, name)
	}
}

// exercise builds a Provider from cfg, sends one GET for path through its
// middleware and returns the scraped families. Anything the exporter logs
// at error level (a family it could not gather) fails the test: the
// endpoint answers 200 regardless, so the log is where such a value shows.
func exercise(t *testing.T, cfg Config, path string) map[string]*dto.MetricFamily {
	t.Helper()
	cfg.Enabled = true
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	p, err := NewProvider(cfg, WithVersion("fuzz"), WithLogger(logger))
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	defer func() { _ = p.Shutdown(t.Context()) }()
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	// Built by hand: httptest.NewRequest would refuse most fuzzed paths,
	// while the middleware reads only the decoded URL.Path.
	h.ServeHTTP(httptest.NewRecorder(), &http.Request{
		Method: http.MethodGet, URL: &url.URL{Path: path}, Header: http.Header{}, Host: "example.com",
	})
	fams := parse(t, scrape(t, p))
	if logs.Len() > 0 {
		t.Fatalf("the exporter logged:\n%s", logs.String())
	}
	return fams
}

func FuzzLatencyBuckets(f *testing.F) {
	for _, s := range []string{
		"0.1,0.5,1", " 0.1 , 0.5,1 ", "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10", "1",
		"1e-3,1e3", "0x1p-3,1", "5e-324", "1.7976931348623157e308", "0.1,0.10000000000000002",
		"1e400", "1e-400", "NaN", "+Inf", "inf", "-0", "0", "-1,1", "1,1", "2,1", "", " ", ",", "1,,2", "1,",
		"1_000", "0x1_0p0", ".5", "5.", "1e", "0.1;0.5", "0,1", "١", "1\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := ConfigFromEnv(env.Map(map[string]string{envLatencyBuckets: raw}))
		if err != nil {
			checkEnvError(t, err, envLatencyBuckets)
			return
		}
		want := DefaultConfig().LatencyBuckets
		if strings.TrimSpace(raw) != "" {
			want = want[:0]
			for _, item := range strings.Split(strings.TrimSpace(raw), ",") {
				v, err := strconv.ParseFloat(strings.TrimSpace(item), 64)
				if err != nil {
					t.Fatalf("accepted %q, whose item %q is not a float: %v", raw, item, err)
				}
				want = append(want, v)
			}
		}
		if !slices.Equal(cfg.LatencyBuckets, want) {
			t.Fatalf("%q parsed as %v, want %v", raw, cfg.LatencyBuckets, want)
		}
		for i, b := range cfg.LatencyBuckets {
			if !(b > 0) || math.IsInf(b, 0) || (i > 0 && !(b > cfg.LatencyBuckets[i-1])) {
				t.Fatalf("%q accepted as %v: not positive, finite and strictly increasing", raw, cfg.LatencyBuckets)
			}
		}
		// The boundaries survive the exposition's text form exactly.
		fams := exercise(t, cfg, "/")
		ms := fams["http_request_duration_seconds"].GetMetric()
		if len(ms) != 1 || ms[0].GetHistogram().GetSampleCount() != 1 {
			t.Fatalf("want one histogram with one sample, got %v", ms)
		}
		var les []float64
		for _, b := range ms[0].GetHistogram().GetBucket() {
			les = append(les, b.GetUpperBound())
		}
		if want := append(slices.Clone(cfg.LatencyBuckets), math.Inf(1)); !slices.Equal(les, want) {
			t.Fatalf("exposed boundaries %v, want %v", les, want)
		}
	})
}

// FuzzCustomLabels also varies the namespace and subsystem: all three name
// the app_info series and must reach the exposition exactly as configured.
func FuzzCustomLabels(f *testing.F) {
	for _, s := range []struct{ labels, ns, sub string }{
		{"env=production,region=us-east-1", "", ""},
		{"url=a=b, team = core ", "default", "gw"},
		{"A=1,a=2,_env=x,env_=y,x9=\"q\\\"\n", "shop", "api"},
		{"_=x", "", ""}, {"a__b=x", "", ""}, {"a__b=x,a_b=y", "", ""}, {"key_=x,_key=y", "", ""},
		{"version=2", "", ""}, {"__name__=x", "", ""}, {"le=1", "", ""}, {"job=x,instance=y", "", ""},
		{"env=", "", ""}, {"=x", "", ""}, {"env", "", ""}, {"env=a,", "", ""}, {"env=a,env=b", "", ""},
		{"k=\xff", "", ""}, {"k=" + strings.Repeat("x", 128), "", ""}, {"k=" + strings.Repeat("é", 65), "", ""},
		{manyLabels(20), "", ""}, {manyLabels(21), "", ""}, {"k=\x00\r\t\u2028", "", ""}, {"ü=x", "", ""},
		{"", "_x", ""}, {"", "x_", ""}, {"", "a__b", ""}, {"", "_", "_"}, {"", "default", "__"},
		{"", "total", ""}, {"", "seconds", "x"}, {"", "Total", "my_seconds2"}, {"", "my-app", ""}, {"", "9x", ""},
	} {
		f.Add(s.labels, s.ns, s.sub)
	}
	vars := []string{envCustomLabels, envNamespace, envSubsystem}
	f.Fuzz(func(t *testing.T, labels, ns, sub string) {
		values := map[string]string{envCustomLabels: labels, envNamespace: ns, envSubsystem: sub}
		cfg, err := ConfigFromEnv(env.Map(values))
		if err != nil {
			// One line per bad variable, and a variable is reported
			// together with the others exactly when it is bad on its own.
			lines := strings.Split(err.Error(), "\n")
			bad := 0
			for _, name := range vars {
				_, alone := ConfigFromEnv(env.Map(map[string]string{name: values[name]}))
				if alone == nil {
					continue
				}
				checkEnvError(t, alone, name)
				bad++
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "invalid "+name+"=") }) {
					t.Fatalf("%s is invalid alone (%v) but missing from %q", name, alone, err)
				}
			}
			if bad != len(lines) {
				t.Fatalf("%d lines for %d bad variables: %q", len(lines), bad, err)
			}
			return
		}

		if strings.TrimSpace(labels) == "" {
			if len(cfg.CustomLabels) != 0 {
				t.Fatalf("no labels set, got %v", cfg.CustomLabels)
			}
		} else {
			items := strings.Split(labels, ",")
			if len(items) != len(cfg.CustomLabels) || len(items) > maxCustomLabels {
				t.Fatalf("%q parsed as %d labels: %v", labels, len(cfg.CustomLabels), cfg.CustomLabels)
			}
			for i, it := range items {
				k, v, _ := strings.Cut(it, "=")
				if got := cfg.CustomLabels[i]; got.Key != strings.TrimSpace(k) || got.Value != strings.TrimSpace(v) {
					t.Fatalf("pair %q parsed as %+v", it, got)
				}
			}
		}
		seen := map[string]bool{}
		for _, l := range cfg.CustomLabels {
			if !labelNameRE.MatchString(l.Key) || strings.HasPrefix(l.Key, "__") ||
				slices.Contains(reservedLabels, l.Key) || seen[l.Key] {
				t.Fatalf("accepted key %q: not a valid, unreserved, unique label name", l.Key)
			}
			if l.Value == "" || len(l.Value) > maxCustomLabelValue || !utf8.ValidString(l.Value) {
				t.Fatalf("accepted value %q for %q", l.Value, l.Key)
			}
			seen[l.Key] = true
		}

		// The series carry the configured prefix and app_info carries
		// exactly the configured labels, nothing renamed or dropped.
		var parts []string
		if cfg.Namespace != "" && cfg.Namespace != "default" {
			parts = append(parts, cfg.Namespace)
		}
		if cfg.Subsystem != "" {
			parts = append(parts, cfg.Subsystem)
		}
		prefix := strings.Join(append(parts, ""), "_")
		if len(parts) == 0 {
			prefix = ""
		}
		fams := exercise(t, cfg, "/")
		want := []string{"app_info", "http_request_duration_seconds", "http_requests_total", "metricsbridge_collection_errors_total", "metricsbridge_series_overflow_total", "metricsbridge_unrouted_requests_total"}
		for i := range want {
			want[i] = prefix + want[i]
		}
		var got []string
		for name := range fams {
			got = append(got, name)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("namespace %q, subsystem %q: families %q, want %q", ns, sub, got, want)
		}
		info := fams[prefix+"app_info"].GetMetric()
		wantLabels := map[string]string{"version": "fuzz"}
		for _, l := range cfg.CustomLabels {
			wantLabels[l.Key] = l.Value
		}
		gotLabels := map[string]string{}
		for _, lp := range info[0].GetLabel() {
			gotLabels[lp.GetName()] = lp.GetValue()
		}
		if len(info) != 1 || !mapsEqual(gotLabels, wantLabels) {
			t.Fatalf("app_info labels %q, want %q", gotLabels, wantLabels)
		}
	})
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// FuzzExcludedHandlers checks every accepted list against its definition:
// a request that matched no route is left out exactly when one item,
// compiled on its own, matches somewhere in the path (the Python
// gateway's unanchored re.search). Inputs near the parser's
// limits are kilobytes long, which the fuzzer spends its time minimising;
// TestExcludedHandlersAtParserLimits covers them instead.
func FuzzExcludedHandlers(f *testing.F) {
	for _, s := range []struct{ patterns, path string }{
		{"/health", "/health"}, {"/health", "/healthz"}, {"/servers/.*/sse, /static/.*", "/servers/1/sse"},
		{"/a|/b", "/b"}, {"(?i)/HEALTH", "/health"}, {"(?m)/x$", "/x\n"}, {"a)|(b", "a"}, {"(", "/"},
		{"x{1,3}", "x{1"}, {`\`, "/"}, {"[[:alpha:]]+", "/"}, {".*", ""}, {"/é/[^/]+", "/é/ü"}, {"\xff", "\xff"},
		{"/a,,/b", "/a"}, {",", "/"}, {"/a,(?:", "/a"}, {"x{1001}", "x"}, {`\pL+`, "héllo"}, {`\C`, "/"},
		{"((a))", "a"}, {"(?i:(?s:.))+", "\n"},
		// Plain text is compared as strings, anchored or not.
		{"^/health$", "/health"}, {"^/health$", "/healthz"}, {"^/a$,/b", "/x/b/y"}, {"(?i)^/A$", "/a"},
		{"(?m)^/a$", "/a\n"}, {`^\Q/a.b\E$`, "/a.b"}, {"^$", ""}, {"^/é$", "/é"},
	} {
		f.Add(s.patterns, s.path)
	}
	f.Fuzz(func(t *testing.T, patterns, path string) {
		cfg, err := ConfigFromEnv(env.Map(map[string]string{envExcludedHandlers: patterns}))
		if err != nil {
			checkEnvError(t, err, envExcludedHandlers)
			return
		}
		excluded := false
		for _, p := range cfg.ExcludedHandlers {
			re, err := regexp.Compile(p)
			if err != nil {
				t.Fatalf("accepted item %q that does not compile: %v", p, err)
			}
			excluded = excluded || re.MatchString(path)
		}
		var total float64
		for _, m := range exercise(t, cfg, path)["http_requests_total"].GetMetric() {
			total += m.GetCounter().GetValue()
			if got := labelString(m.GetLabel(), ""); got != `{handler="none",method="GET",status="204"}` {
				t.Fatalf("recorded as %s", got)
			}
		}
		if want := map[bool]float64{true: 0, false: 1}[excluded]; total != want {
			t.Fatalf("patterns %q, path %q: recorded %v times, want %v", cfg.ExcludedHandlers, path, total, want)
		}
	})
}
