package otlptest

import (
	"fmt"
	"sort"
	"testing"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// StartScrapingCollector runs the collector with its prometheus receiver
// scraping target's /metrics/prometheus every second, as job "bridge",
// with the bearer token read from tokenFile (authorization:
// credentials_file, the way vendor agents are configured), forwarding
// what it scrapes to sink through its otlp_http exporter. Its OTLP
// receiver stays on, for the readiness check.
func StartScrapingCollector(t testing.TB, sink *Sink, target, tokenFile string) *Collector {
	t.Helper()
	c := &Collector{t: t, bin: Binary(t)}
	httpAddr, grpcAddr := promtest.FreeAddr(t), promtest.FreeAddr(t)
	c.Endpoint, c.GRPC = "http://"+httpAddr, "http://"+grpcAddr
	c.addrs = []string{httpAddr, grpcAddr}
	config := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
      grpc:
        endpoint: %s
  prometheus:
    config:
      scrape_configs:
        - job_name: bridge
          scrape_interval: 1s
          scrape_timeout: 1s
          metrics_path: /metrics/prometheus
          authorization:
            type: Bearer
            credentials_file: %s
          static_configs:
            - targets: [%q]
exporters:
  otlp_http:
    endpoint: %s
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp, prometheus]
      exporters: [otlp_http]
`, httpAddr, grpcAddr, tokenFile, target, sink.URL())
	c.launch(config)
	return c
}

// Values returns the value of every point of the named sum or gauge that
// arrived, in order, integer or double.
func (s *Sink) Values(name string) []float64 {
	var out []float64
	s.metrics(name, func(m *metricpb.Metric) {
		for _, dp := range append(m.GetSum().GetDataPoints(), m.GetGauge().GetDataPoints()...) {
			out = append(out, numberValue(dp))
		}
	})
	return out
}

func numberValue(dp *metricpb.NumberDataPoint) float64 {
	if _, ok := dp.GetValue().(*metricpb.NumberDataPoint_AsInt); ok {
		return float64(dp.GetAsInt())
	}
	return dp.GetAsDouble()
}

// Latest returns the latest value of each series of the named sum or gauge,
// integer or double, keyed by its attributes as Attrs formats them.
// A scraping receiver sends cumulative doubles, every scrape in full.
func (s *Sink) Latest(name string) map[string]float64 {
	out := map[string]float64{}
	s.metrics(name, func(m *metricpb.Metric) {
		for _, dp := range append(m.GetSum().GetDataPoints(), m.GetGauge().GetDataPoints()...) {
			out[fmt.Sprint(Attrs(dp.Attributes))] = numberValue(dp)
		}
	})
	return out
}

// Names returns the names of every metric that arrived, sorted.
func (s *Sink) Names() []string {
	seen := map[string]bool{}
	for _, r := range s.Requests() {
		for _, rm := range r.Metrics.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					seen[m.Name] = true
				}
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
