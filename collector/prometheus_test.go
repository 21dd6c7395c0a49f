package collector_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// With METRICS_OTLP_VENDOR=prometheus the push carries the scrape
// endpoint's series, cumulative, under the names Prometheus' OTLP
// translation turns into http_requests_total and
// http_request_duration_seconds, and not the semantic-convention
// instrument they are derived from; the scrape endpoint, not asked for,
// stays off; the last requests go out with the final export at Shutdown.
func TestPrometheusPresetPushesTheScrapeSeries(t *testing.T) {
	tests := []struct {
		name   string
		scrape bool // the scrape endpoint is served as well
	}{
		{"push only", false},
		{"push and scrape", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			cfg, err := collector.ConfigFromEnv(env.Map(map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL()}))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Interval = time.Hour
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			p, err := collector.New(t.Context(), cfg, collector.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			mcfg := otelmetrics.DefaultConfig()
			mcfg.Enabled = tc.scrape
			res := resource.NewSchemaless(attribute.String("service.name", "svc"), attribute.String("service.instance.id", "i-1"))
			prov, err := otelmetrics.NewProvider(mcfg, otelmetrics.WithReader(p.Reader()), otelmetrics.WithResource(res), otelmetrics.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
			h := prov.Middleware(otelmetrics.RoutePattern(mux))
			for range 3 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
			}
			if err := prov.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/x", nil))
			scrape := httptest.NewRecorder()
			prov.MetricsHandler().ServeHTTP(scrape, httptest.NewRequest("GET", "/metrics", nil))
			if want := map[bool]int{true: 200, false: 503}[tc.scrape]; scrape.Code != want {
				t.Errorf("scrape: %d, want %d", scrape.Code, want)
			}
			if err := prov.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			points, temporality := sink.Points(mbsemconv.NameRequests)
			if len(points) == 0 {
				t.Fatalf("no %s arrived", mbsemconv.NameRequests)
			}
			for _, tm := range temporality {
				if tm != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
					t.Errorf("temporality %v, want cumulative", tm)
				}
			}
			if got := sink.TotalWhere(mbsemconv.NameRequests, func(a map[string]string) bool { return a["method"] == "POST" }); got != 1 {
				t.Errorf("the final export carried %d POST requests, want 1", got)
			}
			hists, _ := sink.Histograms(mbsemconv.NameDuration)
			if len(hists) == 0 {
				t.Fatalf("no %s arrived", mbsemconv.NameDuration)
			}
			if got, _ := sink.Histograms(mbsemconv.InstrumentHTTPServerDuration); len(got) != 0 {
				t.Errorf("%s was pushed as well: Prometheus would store it as http_server_request_duration_seconds", mbsemconv.InstrumentHTTPServerDuration)
			}
			for _, r := range sink.Requests() {
				for _, rm := range r.Metrics.ResourceMetrics {
					a := otlptest.Attrs(rm.Resource.Attributes)
					if a["service.name"] != "svc" || a["service.instance.id"] != "i-1" {
						t.Errorf("resource %v: job and instance come from service.name and service.instance.id", a)
					}
					for _, sm := range rm.ScopeMetrics {
						for _, m := range sm.Metrics {
							switch m.Name {
							case mbsemconv.NameRequests:
								for _, dp := range m.GetSum().DataPoints {
									if a := otlptest.Attrs(dp.Attributes); len(a) != 3 || a["status"] != "418" || a["handler"] != "/x" {
										t.Errorf("%s attributes %v, want method, handler and status", m.Name, a)
									}
								}
								if m.Unit != "{request}" || !m.GetSum().IsMonotonic {
									t.Errorf("%s: unit %q, monotonic %v: Prometheus would not name it http_requests_total", m.Name, m.Unit, m.GetSum().IsMonotonic)
								}
							case mbsemconv.NameDuration:
								if m.Unit != "s" {
									t.Errorf("%s: unit %q: Prometheus would not add _seconds", m.Name, m.Unit)
								}
							}
						}
					}
				}
			}
		})
	}
}
