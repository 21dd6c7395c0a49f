package main

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

// Tolerances of TestSummaryAgreesWithPrometheus. The two sides read the
// same counters, but at different instants: snapshots every second on the
// bridge's clock, scrapes every second on Prometheus's, and rate()
// extrapolates to the window's edges. Over a 20 s window of steady
// traffic that moves a rate by a request or two either way (about 5 % at
// 40 req/s), and a percentile by the share of a bucket those requests
// hold.
const (
	summaryRateTolerance     = 0.08 // relative
	summaryRatioTolerance    = 0.02 // absolute
	summaryQuantileTolerance = 0.10 // relative
)

// TestSummaryAgreesWithPrometheus drives a known mix through the demo
// gateway (40 req/s: echo, 10 % tool failures answered 500, slow calls of
// 10, 60 and 150 ms) while a real Prometheus scrapes the same bridge, then
// compares /metrics/summary's rate, 5xx rate, error ratio and p50/p95/p99
// over its 20 s window with the Python gateway's PromQL over the same 20 s.
func TestSummaryAgreesWithPrometheus(t *testing.T) {
	const window = 20 * time.Second
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		// Only the driven mix: the scrapes and the summary reads stay out.
		"METRICS_EXCLUDED_HANDLERS":  `^/metrics/,^/health$,^/ready$`,
		"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": window.String(),
	})
	host := strings.TrimSuffix(strings.TrimPrefix(b.metrics, "http://"), "/metrics/prometheus")
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: bridge
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [`+host+`]
`)
	prom.WaitFor(t, `up{job="bridge"}`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })

	// Ten calls every 250 ms, bounded in count and time.
	mix := []string{
		`{"tool":"echo"}`, `{"tool":"echo"}`, `{"tool":"echo"}`, `{"tool":"echo"}`, `{"tool":"echo"}`, `{"tool":"echo"}`,
		`{"tool":"fail"}`,
		`{"tool":"sleep","args":{"ms":10}}`, `{"tool":"sleep","args":{"ms":60}}`, `{"tool":"sleep","args":{"ms":150}}`,
	}
	const tick = 250 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for range int((window + 15*time.Second) / tick) {
			for _, body := range mix {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := client.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(body))
					if err == nil {
						resp.Body.Close()
					}
				}()
			}
			select {
			case <-tk.C:
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Let the window fill with steady traffic, take the summary, and wait
	// for Prometheus to have scraped past the summary's last snapshot.
	time.Sleep(window + 3*time.Second)
	sum := summaryOf(t, b.base, "")
	time.Sleep(2500 * time.Millisecond)
	if sum.CoveredSeconds < window.Seconds()-1.5 {
		t.Fatalf("the ring covers %.1f s, want the %s window", sum.CoveredSeconds, window)
	}
	at := sum.GeneratedAt
	// The window's length as the ring measured it, in whole milliseconds
	// for PromQL.
	rng := fmt.Sprintf("%dms", int64(sum.CoveredSeconds*1000))
	query := func(q string) float64 {
		t.Helper()
		res, err := prom.QueryAt(q, at)
		if err != nil || len(res) != 1 {
			t.Fatalf("%s: %v %v", q, res, err)
		}
		return res[0].Value
	}
	rate := query(`sum(rate(http_requests_total[` + rng + `]))`)
	errRate := query(`sum(rate(http_requests_total{status=~"5.."}[` + rng + `]))`)
	ratio := query(`sum(rate(http_requests_total{status=~"5.."}[` + rng + `])) / sum(rate(http_requests_total[` + rng + `]))`)
	tot := sum.Totals
	t.Logf("window %s: summary %.2f req/s, %.2f 5xx/s, ratio %.4f; PromQL %.2f req/s, %.2f 5xx/s, ratio %.4f",
		rng, tot.RequestsPerSecond, tot.ErrorsPerSecond, tot.ErrorRatio, rate, errRate, ratio)
	within := func(name string, got, want, tol float64, relative bool) {
		t.Helper()
		diff := math.Abs(got - want)
		if relative {
			diff /= math.Abs(want)
		}
		if !(diff <= tol) {
			t.Errorf("%s: summary %v, PromQL %v (difference %.4f, tolerance %.4f)", name, got, want, diff, tol)
		}
	}
	within("request rate", tot.RequestsPerSecond, rate, summaryRateTolerance, true)
	within("5xx rate", tot.ErrorsPerSecond, errRate, summaryRateTolerance*2, true)
	within("error ratio", tot.ErrorRatio, ratio, summaryRatioTolerance, false)
	// The driven mix itself: 40 req/s, a tenth of them failing.
	within("request rate against the mix", tot.RequestsPerSecond, float64(len(mix))/tick.Seconds(), 0.15, true)
	within("error ratio against the mix", tot.ErrorRatio, 0.1, summaryRatioTolerance, false)
	for _, q := range []struct {
		phi float64
		got dashboard.Seconds
	}{{0.5, tot.P50}, {0.95, tot.P95}, {0.99, tot.P99}} {
		want := query(fmt.Sprintf(`histogram_quantile(%g, sum by (le) (rate(http_request_duration_seconds_bucket[%s])))`, q.phi, rng))
		t.Logf("p%g: summary %.6f s, PromQL %.6f s", q.phi*100, float64(q.got), want)
		within(fmt.Sprintf("p%g", q.phi*100), float64(q.got), want, summaryQuantileTolerance, true)
	}
}

// TestSummaryEqualsPrometheusNative drives a bounded set of requests
// through the demo gateway in native-histogram mode while a real
// Prometheus 3 scrapes it natively, and, once all of them are both in the
// ring and scraped, compares /metrics/summary's percentiles with
// histogram_quantile over the same native histograms: they must be equal.
// The ring covers everything recorded (its first snapshot comes before any
// request), so the raw cumulative series is the same data. The mix is a
// tie (ten 20 ms calls and ten fast ones, four of them answered 500: the
// median sits on the edge between the two groups' buckets), with the
// statuses merged on the scrape side and added on the summary's.
func TestSummaryEqualsPrometheusNative(t *testing.T) {
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "METRICS_HISTOGRAMS": "native",
		"METRICS_EXCLUDED_HANDLERS":  `^/metrics/,^/health$,^/ready$`,
		"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": "5m",
	})
	host := strings.TrimSuffix(strings.TrimPrefix(b.metrics, "http://"), "/metrics/prometheus")
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  scrape_native_histograms: true
scrape_configs:
  - job_name: bridge
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [`+host+`]
`)
	prom.WaitFor(t, `up{job="bridge"}`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })

	client := &http.Client{Timeout: 5 * time.Second}
	call := func(method, path, body string) {
		req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for range 10 {
		call(http.MethodPost, "/tools/invoke", `{"tool":"sleep","args":{"ms":20}}`)
	}
	for range 6 {
		call(http.MethodPost, "/tools/invoke", `{"tool":"echo"}`)
	}
	for range 4 {
		call(http.MethodPost, "/tools/invoke", `{"tool":"fail"}`)
	}
	const requests = 20
	// A snapshot after the last request, then a scrape after it.
	time.Sleep(2500 * time.Millisecond)
	sum := summaryOf(t, b.base, "")
	if sum.Histogram != "exponential" || sum.Totals.Requests != requests {
		t.Fatalf("summary: %s, %d requests, want exponential, %d", sum.Histogram, sum.Totals.Requests, requests)
	}
	prom.WaitFor(t, `sum(histogram_count(http_request_duration_seconds))`, 10*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 1 && s[0].Value == requests
	})
	query := func(q string) []promtest.Sample {
		t.Helper()
		res, err := prom.Query(q)
		if err != nil || len(res) == 0 {
			t.Fatalf("%s: %v %v", q, res, err)
		}
		return res
	}
	for _, q := range []struct {
		phi float64
		got dashboard.Seconds
	}{{0.5, sum.Totals.P50}, {0.95, sum.Totals.P95}, {0.99, sum.Totals.P99}} {
		want := query(fmt.Sprintf(`histogram_quantile(%g, sum(http_request_duration_seconds))`, q.phi))[0].Value
		t.Logf("p%g: summary %v s, PromQL %v s", q.phi*100, float64(q.got), want)
		if float64(q.got) != want {
			t.Errorf("p%g: summary %v, PromQL %v", q.phi*100, float64(q.got), want)
		}
	}
	rows := map[string]float64{}
	for _, r := range query(`histogram_quantile(0.99, sum by (method, handler) (http_request_duration_seconds))`) {
		rows[r.Metric["method"]+" "+r.Metric["handler"]] = r.Value
	}
	for _, e := range sum.Endpoints {
		want, ok := rows[e.Method+" "+e.Handler]
		if !ok || float64(e.P99) != want {
			t.Errorf("%s %s p99: summary %v, PromQL %v", e.Method, e.Handler, float64(e.P99), want)
		}
	}
}
