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
	rec := httptest.NewRecorder()
	b.p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	var total float64
	for _, m := range families["http_requests_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return int64(total)
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
		temporality string
		protocol    string
	}{
		{collector.Cumulative, collector.ProtocolHTTP},
		{collector.Delta, collector.ProtocolHTTP},
		{collector.Delta, collector.ProtocolGRPC},
	} {
		t.Run(tc.temporality+"/"+tc.protocol, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			col := otlptest.StartCollector(t, sink)
			endpoint := col.Endpoint
			if tc.protocol == collector.ProtocolGRPC {
				endpoint = col.GRPC
			}
			b := newBridge(t, map[string]string{
				"OTEL_METRICS_EXPORTER":                             "prometheus,otlp",
				"OTEL_EXPORTER_OTLP_ENDPOINT":                       endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL":                       tc.protocol,
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": tc.temporality,
			})

			const n, m = 120, 75
			b.send(t, n)
			if err := b.flush(t); err != nil {
				t.Fatalf("flush: %v", err)
			}
			sink.WaitTotal(t, "http_requests", n, 20*time.Second)
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
			sink.WaitTotal(t, "http_requests", n+m, 20*time.Second)
			if got := b.scraped(t); got != n+m {
				t.Fatalf("scraped %d, want %d", got, n+m)
			}
			_, temps := sink.Points("http_requests")
			want := map[string]string{collector.Cumulative: "CUMULATIVE", collector.Delta: "DELTA"}[tc.temporality]
			for _, tm := range temps {
				if !strings.HasSuffix(tm.String(), want) {
					t.Fatalf("temporality %s arrived, want %s", tm, want)
				}
			}
		})
	}
}
