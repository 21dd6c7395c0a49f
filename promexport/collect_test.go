package promexport_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// bridge returns a provider with metrics on, logging into logs, with one
// request recorded.
func bridge(t *testing.T, logs io.Writer, edit func(*otelmetrics.Config)) *otelmetrics.Provider {
	t.Helper()
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	if edit != nil {
		edit(&cfg)
	}
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithVersion("1.2.3"),
		otelmetrics.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
	p.Middleware(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/1", nil))
	return p
}

// scrapeOnce returns the status and text body of one scrape of h.
func scrapeOnce(t *testing.T, h http.Handler, accept string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// samples parses a text exposition into "name{labels} value" lines.
func samples(t *testing.T, text string) []string {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	var out []string
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+strconv.Quote(lp.GetValue()))
			}
			l := ""
			if len(labels) > 0 {
				l = "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out = append(out, name+l+" "+strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64))
			case m.GetGauge() != nil:
				out = append(out, name+l+" "+strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64))
			case m.GetHistogram() != nil:
				out = append(out, name+"_count"+l+" "+strconv.FormatUint(m.GetHistogram().GetSampleCount(), 10))
			}
		}
	}
	slices.Sort(out)
	return out
}

func mustContain(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s in\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// An observable instrument whose callback fails (a pool gauge while its
// database is down) loses its own value, nothing else: the rest of the
// scrape is served, the error is logged once however many scrapes see
// it, and counted.
func TestFailingCallbackKeepsTheScrape(t *testing.T) {
	var logs logbuf.Buffer
	p := bridge(t, &logs, nil)
	_, err := p.MeterProvider().Meter("app").Int64ObservableGauge("db.pool.size",
		metric.WithInt64Callback(func(context.Context, metric.Int64Observer) error {
			return errors.New("db down")
		}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		code, text := scrapeOnce(t, p.MetricsHandler(), "")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		mustContain(t, samples(t, text),
			`http_requests_total{handler="/users/{id}",method="GET",status="200"} 1`,
			`app_info{version="1.2.3"} 1`,
			`metricsbridge_collection_errors_total `+strconv.Itoa(i))
	}
	if n := strings.Count(logs.String(), "db down"); n != 1 {
		t.Errorf("the error logged %d times over 3 scrapes, want 1:\n%s", n, logs.String())
	}
}

// A user instrument whose Prometheus name is one of the derived series'
// cannot replace them: it is left out of the scrape, with one log line
// naming it and the fix.
func TestUserInstrumentNamedLikeADerivedSeries(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(metric.Meter) error
	}{
		{"http_requests", func(m metric.Meter) error {
			c, err := m.Int64Counter("http_requests")
			c.Add(context.Background(), 5)
			return err
		}},
		{"http.requests", func(m metric.Meter) error {
			c, err := m.Int64Counter("http.requests")
			c.Add(context.Background(), 5)
			return err
		}},
		{"http_requests_total", func(m metric.Meter) error {
			c, err := m.Float64Counter("http_requests_total")
			c.Add(context.Background(), 5)
			return err
		}},
		{"http_request_duration", func(m metric.Meter) error {
			h, err := m.Float64Histogram("http_request_duration", metric.WithUnit("s"))
			h.Record(context.Background(), 0.2)
			return err
		}},
		{"metricsbridge.series.overflow", func(m metric.Meter) error {
			c, err := m.Int64Counter("metricsbridge.series.overflow")
			c.Add(context.Background(), 5)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logbuf.Buffer
			p := bridge(t, &logs, nil)
			if err := tc.make(p.MeterProvider().Meter("app")); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				code, text := scrapeOnce(t, p.MetricsHandler(), "")
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, text)
				}
				mustContain(t, samples(t, text),
					`http_requests_total{handler="/users/{id}",method="GET",status="200"} 1`,
					`http_request_duration_seconds_count{handler="/users/{id}",method="GET"} 1`,
					`metricsbridge_series_overflow_total 0`)
				promtest.CheckMetrics(t, []byte(text))
			}
			if n := strings.Count(logs.String(), `instrument=`+tc.name); n != 1 {
				t.Errorf("%d log lines name the instrument, want 1:\n%s", n, logs.String())
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("exporter errors logged:\n%s", logs.String())
			}
		})
	}
}

// promexport.New on a provider without the bridge's views: scopes that
// record http.server.request.duration with other boundaries, or in
// milliseconds, are re-bucketed onto the configured boundaries in seconds,
// the same on every scrape.
func TestForeignHistogramsAreRebucketed(t *testing.T) {
	exp, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = exp.Shutdown(context.Background()) })
	route := metric.WithAttributes(mbsemconv.KeyHTTPMethod.String("GET"), mbsemconv.KeyHTTPRoute.String("/x"), mbsemconv.KeyHTTPStatus.Int(200))
	for i, s := range []struct {
		unit   string
		bounds []float64
		value  float64
	}{
		{"s", []float64{0.1, 1}, 0.05},
		{"s", []float64{0.3, 3}, 0.2},
		{"ms", []float64{5, 50, 500}, 40}, // 0.04 s
		{"s", nil, 0.007},                 // the SDK's defaults: 0, 5, 10, 25...
	} {
		opts := []metric.Float64HistogramOption{metric.WithUnit(s.unit)}
		if s.bounds != nil {
			opts = append(opts, metric.WithExplicitBucketBoundaries(s.bounds...))
		}
		h, err := mp.Meter("scope-"+strconv.Itoa(i)).Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, opts...)
		if err != nil {
			t.Fatal(err)
		}
		h.Record(context.Background(), s.value, route)
	}
	var first string
	for i := range 20 {
		code, text := scrapeOnce(t, exp, "")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		// The sum's last digit depends on the order of the additions.
		text = regexp.MustCompile(`(?m)^http_request_duration_seconds_sum.*\n`).ReplaceAllString(text, "")
		if i == 0 {
			first = text
			promtest.CheckMetrics(t, []byte(text))
		} else if text != first {
			t.Fatalf("scrape %d differs from the first:\n%s\nfirst:\n%s", i, text, first)
		}
	}
	// 0.05 in (0, 0.1] is put at le=0.1; 0.2 in (0, 0.3] at le=0.5; 40 ms in
	// (5, 50] ms at le=0.05; 0.007 in (0, 5] of the SDK's defaults at le=5.
	// Boundaries are the configured ones, in seconds.
	var les []string
	for line := range strings.Lines(first) {
		if strings.HasPrefix(line, "http_request_duration_seconds_bucket{") {
			les = append(les, strings.TrimSpace(line[strings.Index(line, `le="`):]))
		}
	}
	want := []string{
		`le="0.005"} 0`, `le="0.01"} 0`, `le="0.025"} 0`, `le="0.05"} 1`, `le="0.1"} 2`, `le="0.25"} 2`,
		`le="0.5"} 3`, `le="1"} 3`, `le="2.5"} 3`, `le="5"} 4`, `le="10"} 4`, `le="+Inf"} 4`,
	}
	if !slices.Equal(les, want) {
		t.Errorf("buckets\n%s\nwant\n%s", strings.Join(les, "\n"), strings.Join(want, "\n"))
	}
	_, text := scrapeOnce(t, exp, "")
	if !regexp.MustCompile(`http_request_duration_seconds_sum\{handler="/x",method="GET"\} 0\.29(7|69999|70000)`).MatchString(text) {
		t.Errorf("sum not in seconds:\n%s", text)
	}
}

// With METRICS_PROMETHEUS_NAMES=semconv the overflow is reported as in
// the other forms: the self-metric and one warning.
func TestSemconvFormReportsOverflow(t *testing.T) {
	var logs logbuf.Buffer
	p := bridge(t, &logs, func(c *otelmetrics.Config) {
		c.PrometheusNames = promexport.NamesSemconv
		c.CardinalityLimit = 3
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /r/{id}", func(w http.ResponseWriter, r *http.Request) {
		otelmetrics.SetRoute(r.Context(), "/r/"+r.PathValue("id"))
	})
	h := p.Middleware(mux)
	for i := range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/r/"+strconv.Itoa(i), nil))
	}
	for range 2 {
		_, text := scrapeOnce(t, p.MetricsHandler(), "")
		got := samples(t, text)
		var overflow string
		for _, s := range got {
			if strings.HasPrefix(s, "metricsbridge_series_overflow_total ") {
				overflow = s
			}
		}
		if overflow == "" || overflow == "metricsbridge_series_overflow_total 0" {
			t.Errorf("no overflow reported in\n%s", strings.Join(got, "\n"))
		}
	}
	if n := strings.Count(logs.String(), "series limit reached"); n != 1 {
		t.Errorf("%d overflow warnings, want 1:\n%s", n, logs.String())
	}
}

// After Shutdown the endpoint has nothing to serve: 503, not an empty 200
// that a scraper would take for a target without series. The same when
// the caller shut down the provider the exporter's reader belongs to.
func TestScrapeAfterShutdownIs503(t *testing.T) {
	t.Run("Provider.Shutdown", func(t *testing.T) {
		p := bridge(t, io.Discard, nil)
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code, body := scrapeOnce(t, p.MetricsHandler(), ""); code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503: %q", code, body)
		}
	})
	t.Run("the reader's provider shut down", func(t *testing.T) {
		exp, err := promexport.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if code, body := scrapeOnce(t, exp, ""); code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503: %q", code, body)
			}
		}
	})
}

// The attributes a view filtered out of a point stay out of its
// exemplars on every histogram, the body-size ones included: Prometheus
// refuses exemplar labels over 128 runes, and they are the very
// attributes (user agent, client address) the views keep out.
func TestExemplarsCarryOnlyTheTrace(t *testing.T) {
	p := bridge(t, io.Discard, func(c *otelmetrics.Config) {
		c.BodySizes = true
		c.PrometheusNames = promexport.NamesBoth
	})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	})
	h := otelhttp.NewHandler(mux, "svc", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(p.MeterProvider()))
	r := httptest.NewRequest("POST", "/upload", strings.NewReader("body"))
	r.Header.Set("User-Agent", strings.Repeat("Mozilla/5.0 (compatible; a long user agent) ", 4))
	h.ServeHTTP(httptest.NewRecorder(), r)

	_, om := scrapeOnce(t, p.MetricsHandler(), "application/openmetrics-text;version=1.0.0")
	exemplar := regexp.MustCompile(`# \{([^}]*)\}`)
	seen := map[string]bool{}
	for line := range strings.Lines(om) {
		m := exemplar.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		seen[line[:strings.IndexAny(line, "{ ")]] = true
		labels := regexp.MustCompile(`(\w+)="`).FindAllStringSubmatch(m[1], -1)
		for _, l := range labels {
			if l[1] != "trace_id" && l[1] != "span_id" {
				t.Errorf("exemplar label %s: %s", l[1], line)
			}
		}
	}
	for _, want := range []string{
		"http_request_duration_seconds_bucket",
		"http_server_request_duration_seconds_bucket",
		"http_server_request_body_size_bytes_bucket",
		"http_server_response_body_size_bytes_bucket",
	} {
		if !seen[want] {
			t.Errorf("no exemplar on %s:\n%s", want, om)
		}
	}
}
