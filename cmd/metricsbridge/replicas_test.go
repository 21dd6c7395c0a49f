package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	"github.com/metricsbridge/metricsbridge/internal/promtest"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// otlpRequestsMetric is the OTLP metric whose points count requests. A sum
// counts them in its value, a histogram in its count; otlpRequests reads
// either, so following the instrument's name is the only change it needs.
const otlpRequestsMetric = mbsemconv.InstrumentHTTPServerDuration

// otlpRequests is what a backend behind the Collector would show as the
// request total of each replica, keyed by service.instance.id: the sum of
// every delta point plus the latest cumulative value of each series.
func otlpRequests(sink *otlptest.Sink) map[string]int64 {
	type series struct{ instance, attrs string }
	type point struct {
		at    uint64
		count int64
	}
	latest := map[series]point{}
	out := map[string]int64{}
	for _, r := range sink.Requests() {
		for _, rm := range r.Metrics.ResourceMetrics {
			instance := ""
			for _, a := range rm.Resource.GetAttributes() {
				if a.Key == "service.instance.id" {
					instance = a.Value.GetStringValue()
				}
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != otlpRequestsMetric {
						continue
					}
					var temporality metricpb.AggregationTemporality
					var points []point
					var attrs []string
					switch {
					case m.GetSum() != nil:
						temporality = m.GetSum().AggregationTemporality
						for _, dp := range m.GetSum().DataPoints {
							points = append(points, point{dp.TimeUnixNano, dp.GetAsInt()})
							attrs = append(attrs, fmt.Sprint(dp.Attributes))
						}
					case m.GetHistogram() != nil:
						temporality = m.GetHistogram().AggregationTemporality
						for _, dp := range m.GetHistogram().DataPoints {
							points = append(points, point{dp.TimeUnixNano, int64(dp.Count)})
							attrs = append(attrs, fmt.Sprint(dp.Attributes))
						}
					}
					for i, p := range points {
						if temporality == metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
							out[instance] += p.count
							continue
						}
						k := series{instance, attrs[i]}
						if p.at >= latest[k].at {
							latest[k] = p
						}
					}
				}
			}
		}
	}
	for k, p := range latest {
		out[k.instance] += p.count
	}
	return out
}

// Three replicas behind one Prometheus that finds them through
// file_sd_configs, and pushing to one Collector: both add up to exactly
// the traffic that was spread over them.
func TestReplicas(t *testing.T) {
	up := newTestUpstream(t, map[string]http.HandlerFunc{
		"GET /items/{id}": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
		},
	})
	sink := otlptest.NewSink(t, false)
	col := otlptest.StartCollector(t, sink)

	const replicas = 3
	bridges := make([]*bridge, replicas)
	var targets []map[string]any
	for i := range bridges {
		name := fmt.Sprintf("metricsbridge-%d", i)
		bridges[i] = startBridge(t, map[string]string{
			"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
			"UPSTREAM_URL": up.URL, "METRICS_ROUTES": "POST /tools/invoke,GET /items/{id},GET /fail",
			// Scrapes would otherwise be counted next to the traffic.
			"METRICS_EXCLUDED_HANDLERS":   `^/metrics/prometheus$,^/health$,^/ready$`,
			"OTEL_METRICS_EXPORTER":       "prometheus,otlp",
			"OTEL_EXPORTER_OTLP_ENDPOINT": col.Endpoint,
			"OTEL_METRIC_EXPORT_INTERVAL": "500",
			"OTEL_SERVICE_NAME":           "gateway",
			"OTEL_RESOURCE_ATTRIBUTES":    "service.instance.id=" + name,
		})
		host := strings.TrimSuffix(strings.TrimPrefix(bridges[i].metrics, "http://"), "/metrics/prometheus")
		targets = append(targets, map[string]any{"targets": []string{host}, "labels": map[string]string{"pod": name}})
	}
	sd := filepath.Join(t.TempDir(), "bridges.json")
	b, _ := json.Marshal(targets)
	if err := os.WriteFile(sd, b, 0o600); err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: mcp-gateway
    metrics_path: /metrics/prometheus
    file_sd_configs:
      - files: [`+sd+`]
`)
	prom.WaitFor(t, `count(up{job="mcp-gateway"} == 1)`, 30*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 1 && s[0].Value == replicas
	})

	// The mix, spread unevenly: replica i gets about (i+1)/6 of it.
	kinds := []struct {
		method, path, series string
	}{
		{"POST", "/tools/invoke", "POST /tools/invoke 200"},
		{"GET", "/items/42", "GET /items/{id} 200"},
		{"GET", "/items/7", "GET /items/{id} 200"},
		{"GET", "/fail", "GET /fail 503"},
		{"GET", "/nowhere", "GET none 404"},
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	rng := rand.New(rand.NewPCG(15, 3))
	const total = 900
	want := map[string]int{}
	perReplica := make([]int64, replicas)
	for range total {
		k := kinds[rng.IntN(len(kinds))]
		i := 0
		switch r := rng.IntN(6); {
		case r >= 3:
			i = 2
		case r >= 1:
			i = 1
		}
		req, _ := http.NewRequest(k.method, bridges[i].base+k.path, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want[k.series]++
		perReplica[i]++
	}
	t.Logf("sent %d requests: %v; per replica %v", total, want, perReplica)

	prom.WaitFor(t, `sum(http_requests_total)`, 30*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 1 && s[0].Value == total
	})
	bySeries, err := prom.Query(`sum by (method, handler, status) (http_requests_total)`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range bySeries {
		got[s.Metric["method"]+" "+s.Metric["handler"]+" "+s.Metric["status"]] = int(s.Value)
	}
	if !maps.Equal(got, want) {
		t.Errorf("Prometheus sum by series %v, want %v", got, want)
	}
	byPod, err := prom.Query(`sum by (pod) (http_requests_total)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range byPod {
		var i int
		fmt.Sscanf(s.Metric["pod"], "metricsbridge-%d", &i)
		if int64(s.Value) != perReplica[i] {
			t.Errorf("pod %s: %v requests, sent %d", s.Metric["pod"], s.Value, perReplica[i])
		}
	}
	if len(byPod) != replicas {
		t.Errorf("%d pods in Prometheus, want %d", len(byPod), replicas)
	}

	var otlp map[string]int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		otlp = otlpRequests(sink)
		sum := int64(0)
		for _, v := range otlp {
			sum += v
		}
		if sum == total && len(otlp) == replicas || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, n := range perReplica {
		if id := fmt.Sprintf("metricsbridge-%d", i); otlp[id] != n {
			t.Errorf("Collector: %s sent %d requests, want %d (all: %v)", id, otlp[id], n, otlp)
		}
	}
	if len(otlp) != replicas {
		t.Errorf("Collector saw instances %v, want %d distinct service.instance.id", otlp, replicas)
	}
}
