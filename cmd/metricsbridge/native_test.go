package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// A real Prometheus 3 scraping natively reads the median of a known
// latency mix from the native histogram within the histogram's error
// bound, while the classic buckets put it in the middle of the 0.25–0.5 s
// bucket, a bucket width's guess.
//
// Both bridges get the same requests through the demo's sleep tool: 20 of
// 100 ms, 10 of 260 ms and 20 of 800 ms, so the median is among the
// 260 ms ones. The recorded durations are at least the sleep and at most
// what the client measured, which bounds the true median. 260 ms sits low
// in the classic 0.25–0.5 s bucket, so the classic answer (its middle)
// stays clear of the true median even when a loaded machine stretches
// what the client measures.
func TestNativeHistogramQuantileWithPrometheus3(t *testing.T) {
	vars := map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"}
	classic := startBridge(t, vars)
	nativeVars := map[string]string{"METRICS_HISTOGRAMS": "native"}
	for k, v := range vars {
		nativeVars[k] = v
	}
	native := startBridge(t, nativeVars)

	prom := promtest.Start(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_native_histograms: true
scrape_configs:
  - job_name: classic
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [%q]
  - job_name: native
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(classic.base, "http://"), strings.TrimPrefix(native.base, "http://")))

	// One fast request first, scraped before the mix, so rate() has a
	// starting sample and sees only the mix.
	for _, b := range []*bridge{classic, native} {
		post(t, b.base+"/tools/invoke", `{"tool":"echo"}`, 200)
	}
	prom.WaitFor(t, `count(http_requests_total{handler="/tools/invoke"}) == 2`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })

	const middleMS = 260
	mix := map[int]int{100: 20, middleMS: 10, 800: 20}
	var mu sync.Mutex
	middle := map[*bridge][]time.Duration{} // what the client measured for the middle requests
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for ms, count := range mix {
		for range count {
			for _, b := range []*bridge{classic, native} {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					start := time.Now()
					resp, err := http.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(fmt.Sprintf(`{"tool":"sleep","args":{"ms":%d}}`, ms)))
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if ms == middleMS {
						mu.Lock()
						middle[b] = append(middle[b], time.Since(start))
						mu.Unlock()
					}
				}()
			}
		}
	}
	wg.Wait()
	// The median, the 25th of 50, is the 5th of the native bridge's middle
	// requests, recorded at least at their sleep and at most at what the client
	// saw of its 5th (the 6th, to leave the order of the two room).
	slices.Sort(middle[native])
	lo, hi := middleMS/1000.0, middle[native][5].Seconds()

	prom.WaitFor(t, `sum by (job) (http_requests_total{handler="/tools/invoke"})`, 30*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 2 && s[0].Value == 51 && s[1].Value == 51
	})
	// The native series is one series, not a _bucket family.
	if res, err := prom.Query(`count(http_request_duration_seconds_bucket{job="native"})`); err != nil || len(res) != 0 {
		t.Errorf("native job has classic buckets: %v %v", res, err)
	}

	scale := nativeSchema(t, native.metrics)
	bound := math.Exp2(math.Exp2(-float64(scale))) - 1 // one bucket's relative width
	nat := prom.WaitFor(t, `histogram_quantile(0.5, sum by (handler) (rate(http_request_duration_seconds{job="native",handler="/tools/invoke"}[1m])))`, 10*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 })[0].Value
	cls := prom.WaitFor(t, `histogram_quantile(0.5, sum by (handler, le) (rate(http_request_duration_seconds_bucket{job="classic",handler="/tools/invoke"}[1m])))`, 10*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 })[0].Value
	t.Logf("%s; true median in [%.4f, %.4f] s; native (schema %d, bucket width %.2f%%) %.4f s; classic %.4f s",
		promtest.Version(t, promtest.Tool(t, "prometheus")), lo, hi, scale, 100*bound, nat, cls)

	if nat < lo/(1+bound) || nat > hi*(1+bound) {
		t.Errorf("native median %.4f s outside [%.4f, %.4f]: the true median within one bucket's width", nat, lo/(1+bound), hi*(1+bound))
	}
	// Linear interpolation in (0.25, 0.5]: 20 requests below, 10 in it,
	// rank 25 half-way: 0.375 s, whatever the true value in the bucket.
	// rate() extrapolates each _bucket series by a slightly different
	// factor (each is limited by where it would reach zero), hence the
	// tolerance.
	if math.Abs(cls-0.375) > 0.03 {
		t.Errorf("classic median %.4f s, want 0.375 s, the middle of the 0.25–0.5 s bucket", cls)
	}
	if cls < hi*(1+bound) {
		t.Errorf("classic median %.4f s is within the native error bound of the true median; the mix shows nothing", cls)
	}
}

// nativeSchema scrapes url over protobuf and returns the schema of the
// /tools/invoke native histogram.
func nativeSchema(t *testing.T, url string) int32 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.Format(resp.Header.Get("Content-Type")))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			t.Fatalf("no native histogram for /tools/invoke in the protobuf scrape: %v", err)
		}
		if mf.GetName() != "http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "handler" && l.GetValue() == "/tools/invoke" && m.GetHistogram().Schema != nil {
					return m.GetHistogram().GetSchema()
				}
			}
		}
	}
}
