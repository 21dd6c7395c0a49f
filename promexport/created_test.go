package promexport_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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
			cfg := otelmetrics.DefaultConfig()
			cfg.Enabled = true
			cfg.Histograms = tc.mode
			cfg.PrometheusNames = tc.names
			p, err := otelmetrics.NewProvider(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
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
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
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
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
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
