package collector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// bridge is an instrumented server whose metrics go both to the scrape
// endpoint and, through a Pusher, over OTLP.
type bridge struct {
	p      *otelmetrics.Provider
	pusher *collector.Pusher
	srv    *httptest.Server
}

func newBridge(t *testing.T, vars map[string]string) *bridge {
	t.Helper()
	cfg, err := collector.ConfigFromEnv(env.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	// Only explicit flushes export, so the test decides when pushes happen.
	cfg.Interval = time.Hour
	cfg.ExportTimeout = 2 * time.Second
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pusher, err := collector.New(t.Context(), cfg, collector.WithLogger(logger), collector.WithBackoff(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	mcfg := otelmetrics.DefaultConfig()
	mcfg.Enabled = true
	mcfg.CustomLabels = []otelmetrics.Label{{Key: "env", Value: "e2e"}}
	p, err := otelmetrics.NewProvider(mcfg, otelmetrics.WithReader(pusher.Reader()), otelmetrics.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if err := pusher.RegisterMetrics(p.MeterProvider()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	b := &bridge{p: p, pusher: pusher, srv: httptest.NewServer(p.Middleware(mux))}
	t.Cleanup(func() {
		b.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return b
}

func (b *bridge) send(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprint(i)
		if i%5 == 0 {
			id = "missing"
		}
		resp, err := http.Get(b.srv.URL + "/items/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// scraped is sum(http_requests_total) on the Prometheus endpoint.
func (b *bridge) scraped(t *testing.T) int64 {
	t.Helper()
	var total int64
	for _, n := range b.scrapedBy(t) {
		total += n
	}
	return total
}

// scrapedBy is http_requests_total by "method handler status".
func (b *bridge) scrapedBy(t *testing.T) map[string]int64 {
	t.Helper()
	rec := httptest.NewRecorder()
	b.p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	by := map[string]int64{}
	for _, m := range families["http_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		by[l["method"]+" "+l["handler"]+" "+l["status"]] += int64(m.GetCounter().GetValue())
	}
	return by
}

// checkSemconv fails unless what arrived is http.server.request.duration
// with the semantic conventions' attributes and nothing else, the custom
// labels as resource attributes, and the same counts per method, route and
// status as the scrape endpoint shows.
func checkSemconv(t *testing.T, sink *otlptest.Sink, b *bridge) {
	t.Helper()
	allowed := map[string]bool{}
	for _, k := range mbsemconv.HTTPServerKeys {
		allowed[string(k)] = true
	}
	points, _ := sink.Histograms(mbsemconv.InstrumentHTTPServerDuration)
	if len(points) == 0 {
		t.Fatal("no http.server.request.duration points arrived")
	}
	for _, dp := range points {
		for k := range otlptest.Attrs(dp.Attributes) {
			if !allowed[k] {
				t.Errorf("attribute %q on http.server.request.duration", k)
			}
		}
	}
	for _, r := range sink.Requests() {
		for _, rm := range r.Metrics.ResourceMetrics {
			if got := otlptest.Attrs(rm.GetResource().GetAttributes())["env"]; got != "e2e" {
				t.Errorf("resource attribute env = %q, want the custom label's e2e", got)
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if strings.HasPrefix(m.Name, "http_") {
						t.Errorf("metric %q pushed: OTLP must carry the semantic conventions only", m.Name)
					}
				}
			}
		}
	}
	for key, want := range b.scrapedBy(t) {
		method, route, status := splitKey(key)
		got := sink.TotalWhere(mbsemconv.InstrumentHTTPServerDuration, func(a map[string]string) bool {
			return a[string(mbsemconv.KeyHTTPMethod)] == method && a[string(mbsemconv.KeyHTTPRoute)] == route &&
				a[string(mbsemconv.KeyHTTPStatus)] == status
		})
		if got != want {
			t.Errorf("%s: pushed %d, scraped %d", key, got, want)
		}
	}
}

func splitKey(key string) (method, route, status string) {
	f := strings.Fields(key)
	return f[0], f[1], f[2]
}

func (b *bridge) flush(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	return b.p.ForceFlush(ctx)
}

// The same requests reach a real Collector and the scrape endpoint, and
// the totals agree, also across a Collector outage.
func TestCollectorReceivesWhatIsScraped(t *testing.T) {
	for _, tc := range []struct {
		temporality collector.Temporality
		protocol    collector.Protocol
	}{
		{collector.Cumulative, collector.ProtocolHTTP},
		{collector.Delta, collector.ProtocolHTTP},
		{collector.Delta, collector.ProtocolGRPC},
	} {
		t.Run(string(tc.temporality)+"/"+string(tc.protocol), func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			col := otlptest.StartCollector(t, sink)
			endpoint := col.Endpoint
			if tc.protocol == collector.ProtocolGRPC {
				endpoint = col.GRPC
			}
			b := newBridge(t, map[string]string{
				"OTEL_METRICS_EXPORTER":                             "prometheus,otlp",
				"OTEL_EXPORTER_OTLP_ENDPOINT":                       endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL":                       string(tc.protocol),
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": string(tc.temporality),
			})

			const n, m = 120, 75
			b.send(t, n)
			if err := b.flush(t); err != nil {
				t.Fatalf("flush: %v", err)
			}
			sink.WaitTotal(t, mbsemconv.InstrumentHTTPServerDuration, n, 20*time.Second)
			if got := b.scraped(t); got != n {
				t.Fatalf("scraped %d, want %d", got, n)
			}

			// The collector goes away; requests keep coming and a push fails.
			col.Stop()
			b.send(t, m)
			if err := b.flush(t); err == nil {
				t.Fatal("a push with the collector down succeeded")
			}
			if b.pusher.Stats().Failures == 0 {
				t.Error("the failed push was not counted")
			}
			col.Start()
			if err := b.flush(t); err != nil {
				t.Fatalf("flush after restart: %v", err)
			}
			sink.WaitTotal(t, mbsemconv.InstrumentHTTPServerDuration, n+m, 20*time.Second)
			if got := b.scraped(t); got != n+m {
				t.Fatalf("scraped %d, want %d", got, n+m)
			}
			checkSemconv(t, sink, b)
			points, temps := sink.Histograms(mbsemconv.InstrumentHTTPServerDuration)
			want := map[collector.Temporality]string{collector.Cumulative: "CUMULATIVE", collector.Delta: "DELTA"}[tc.temporality]
			for i, tm := range temps {
				if !strings.HasSuffix(tm.String(), want) {
					t.Fatalf("temporality %s arrived, want %s", tm, want)
				}
				// Through the real Collector, the interval carried across
				// its outage included: every point keeps its extremes.
				if dp := points[i]; dp.GetCount() > 0 && (dp.Min == nil || dp.Max == nil || dp.GetMin() > dp.GetMax() || dp.GetMin() < 0) {
					t.Errorf("histogram point without sound min and max: %v", dp)
				}
			}
		})
	}
}
