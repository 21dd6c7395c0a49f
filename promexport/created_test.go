package promexport_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Every cumulative series served over protobuf carries its start (created)
// timestamp, so that Prometheus 3 with created-timestamp-zero-ingestion
// inserts the zero before its first value. A series that first appears
// after a scrape starts no earlier than that scrape: the SDK gives every
// series of an instrument the instrument's start, which would put the zero
// before the previous scrape, where increase() never sees it.
func TestCreatedTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		names    promexport.Names
		mode     otelmetrics.Histograms
		families []string // the cumulative families of the route
		route    func(*dto.Metric) bool
	}{
		{"instrumentator classic", promexport.NamesInstrumentator, otelmetrics.HistogramsClassic,
			[]string{"http_requests_total", "http_request_duration_seconds"}, labelIs("handler", "/late")},
		{"instrumentator native", promexport.NamesInstrumentator, otelmetrics.HistogramsNative,
			[]string{"http_requests_total", "http_request_duration_seconds"}, labelIs("handler", "/late")},
		{"semconv classic", promexport.NamesSemconv, otelmetrics.HistogramsClassic,
			[]string{"http_server_request_duration_seconds"}, labelIs("http_route", "/late")},
		{"both native", promexport.NamesBoth, otelmetrics.HistogramsNative,
			[]string{"http_requests_total", "http_request_duration_seconds", "http_server_request_duration_seconds"}, labelIs("http_route", "/late", "handler", "/late")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := enabled(t, func(cfg *otelmetrics.Config) {
				cfg.Histograms = tc.mode
				cfg.PrometheusNames = tc.names
			})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /early", func(http.ResponseWriter, *http.Request) {})
			mux.HandleFunc("GET /late", func(http.ResponseWriter, *http.Request) {})
			h := p.Middleware(mux)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/early", nil))

			time.Sleep(5 * time.Millisecond)
			firstScrape := time.Now()
			before, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/late", nil))
			after, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)

			for _, name := range tc.families {
				mf := after[name]
				if mf == nil {
					t.Fatalf("no family %s", name)
				}
				var late int
				for _, m := range mf.Metric {
					ct := createdOf(m)
					if ct == nil {
						t.Errorf("%s%v: no created timestamp", name, m.Label)
						continue
					}
					if !tc.route(m) {
						// Unchanged from the first scrape: a start that moved
						// would read as a reset.
						if prev := findMetric(before[name], m); prev != nil && !createdOf(prev).AsTime().Equal(ct.AsTime()) {
							t.Errorf("%s%v: created %v, was %v", name, m.Label, ct.AsTime(), createdOf(prev).AsTime())
						}
						continue
					}
					late++
					if ct.AsTime().Before(firstScrape) || ct.AsTime().After(time.Now()) {
						t.Errorf("%s%v: created %v, want between the first scrape (%v) and now", name, m.Label, ct.AsTime(), firstScrape)
					}
				}
				if late == 0 {
					t.Errorf("%s: no series of /late", name)
				}
			}
		})
	}
}

func createdOf(m *dto.Metric) interface {
	AsTime() time.Time
} {
	switch {
	case m.Counter != nil && m.Counter.CreatedTimestamp != nil:
		return m.Counter.CreatedTimestamp
	case m.Histogram != nil && m.Histogram.CreatedTimestamp != nil:
		return m.Histogram.CreatedTimestamp
	}
	return nil
}

func labelIs(pairs ...string) func(*dto.Metric) bool {
	return func(m *dto.Metric) bool {
		for _, l := range m.Label {
			for i := 0; i < len(pairs); i += 2 {
				if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
					return true
				}
			}
		}
		return false
	}
}

func findMetric(mf *dto.MetricFamily, m *dto.Metric) *dto.Metric {
	if mf == nil {
		return nil
	}
	for _, o := range mf.Metric {
		if labelsString(o) == labelsString(m) {
			return o
		}
	}
	return nil
}

func labelsString(m *dto.Metric) string {
	var s string
	for _, l := range m.Label {
		s += l.GetName() + "=" + l.GetValue() + ","
	}
	return s
}

// The caller's own counters and histograms on the provider keep the SDK's
// start, which the exporter would otherwise drop for them.
func TestCreatedTimestampsOwnInstruments(t *testing.T) {
	p := enabled(t, nil)
	meter := p.MeterProvider().Meter("jobs")
	jobs, _ := meter.Int64Counter("jobs.done", metric.WithUnit("{job}"))
	took, _ := meter.Float64Histogram("job.duration", metric.WithUnit("s"))
	jobs.Add(t.Context(), 2, metric.WithAttributes(attribute.String("queue.name", "mail"), attribute.Int("job.priority", 3), attribute.Bool("job.retry", true)))
	took.Record(t.Context(), 0.2, metric.WithAttributes(attribute.String("queue.name", "mail")))

	got, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)
	for _, name := range []string{"jobs_done_total", "job_duration_seconds"} {
		mf := got[name]
		if mf == nil || len(mf.Metric) != 1 {
			t.Fatalf("%s: %v", name, mf)
		}
		ct := createdOf(mf.Metric[0])
		if ct == nil || ct.AsTime().IsZero() || ct.AsTime().After(time.Now()) {
			t.Errorf("%s%v: created %v", name, mf.Metric[0].Label, ct)
		}
	}
}

// Protobuf and text scrapes at once, while requests arrive on new routes:
// the starts are written by one collection and read by another scrape's
// gatherer (run with -race).
func TestCreatedTimestampsConcurrentScrapes(t *testing.T) {
	p := enabled(t, nil)
	mux := http.NewServeMux()
	for n := range 50 {
		mux.HandleFunc("GET /r"+strconv.Itoa(n), func(http.ResponseWriter, *http.Request) {})
	}
	h := p.Middleware(mux)
	var wg sync.WaitGroup
	for i := range 4 {
		accept := ""
		if i%2 == 0 {
			accept = acceptProto
		}
		wg.Go(func() {
			for range 20 {
				scrapeFamilies(t, p.MetricsHandler(), accept)
			}
		})
	}
	for n := range 200 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/r"+strconv.Itoa(n%50), nil))
	}
	wg.Wait()
	got, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)
	if n := len(got["http_requests_total"].GetMetric()); n != 50 {
		t.Fatalf("%d series, want 50", n)
	}
	for _, m := range got["http_requests_total"].Metric {
		if createdOf(m) == nil {
			t.Errorf("%v: no created timestamp", m.Label)
		}
	}
}

// Starts are tracked from the first protobuf scrape on, since text
// carries none: a series already there then starts at the SDK's start, a
// series new after it no earlier than that scrape, and neither moves
// afterwards.
func TestCreatedTimestampsAfterTextScrapes(t *testing.T) {
	p := enabled(t, nil)
	mux := http.NewServeMux()
	for _, route := range []string{"/early", "/late"} {
		mux.HandleFunc("GET "+route, func(http.ResponseWriter, *http.Request) {})
	}
	h := p.Middleware(mux)
	serve := func(path string) { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil)) }

	serve("/early")
	for range 2 {
		if _, body := scrapeFamilies(t, p.MetricsHandler(), ""); !strings.Contains(body, `handler="/early"`) {
			t.Fatalf("text scrape without /early:\n%s", body)
		}
	}
	time.Sleep(5 * time.Millisecond)
	firstProto := time.Now()
	first, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)
	early := findMetric(first["http_requests_total"], &dto.Metric{Label: labelPairs("handler", "/early", "method", "GET", "status", "200")})
	if early == nil || createdOf(early) == nil {
		t.Fatalf("/early after the first protobuf scrape: %v", early)
	}
	if !createdOf(early).AsTime().Before(firstProto) {
		t.Errorf("/early created %v, want the SDK's start, before the first protobuf scrape (%v)", createdOf(early).AsTime(), firstProto)
	}

	serve("/late")
	second, _ := scrapeFamilies(t, p.MetricsHandler(), acceptProto)
	for _, tc := range []struct {
		route string
		ok    func(time.Time) bool
		want  string
	}{
		{"/early", func(c time.Time) bool { return c.Equal(createdOf(early).AsTime()) }, "unchanged"},
		{"/late", func(c time.Time) bool { return !c.Before(firstProto) && !c.After(time.Now()) }, "from the first protobuf scrape on"},
	} {
		m := findMetric(second["http_requests_total"], &dto.Metric{Label: labelPairs("handler", tc.route, "method", "GET", "status", "200")})
		if m == nil || createdOf(m) == nil {
			t.Fatalf("%s: no created timestamp in the second protobuf scrape", tc.route)
		}
		if c := createdOf(m).AsTime(); !tc.ok(c) {
			t.Errorf("%s: created %v, want %s", tc.route, c, tc.want)
		}
	}
}

// labelPairs builds a series' labels from name, value pairs given in the
// exporter's order, by name.
func labelPairs(pairs ...string) []*dto.LabelPair {
	var ls []*dto.LabelPair
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, &dto.LabelPair{Name: &pairs[i], Value: &pairs[i+1]})
	}
	return ls
}

// enabled returns a provider with metrics on and the configuration edit
// makes, shut down when the test ends.
func enabled(t *testing.T, edit func(*otelmetrics.Config)) *otelmetrics.Provider {
	t.Helper()
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	if edit != nil {
		edit(&cfg)
	}
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	return p
}
