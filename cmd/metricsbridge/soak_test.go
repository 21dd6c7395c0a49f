package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

var (
	soakRequests    = flag.Int("soak.requests", 0, "requests per mode in TestSoak; 0 skips it (make soak sets it)")
	soakConcurrency = flag.Int("soak.concurrency", 64, "concurrent clients in TestSoak")
)

// loadResult is what the clients saw.
type loadResult struct {
	// counts of responses by "METHOD handler status", the series the
	// bridge should have recorded for them.
	counts    map[string]int
	errors    int
	latencies []time.Duration
}

func (r loadResult) total() int {
	n := 0
	for _, c := range r.counts {
		n += c
	}
	return n
}

// request is one request of a load and the method and handler label the
// bridge should record it under.
type request struct {
	req   *http.Request
	label string // "METHOD handler"
}

// runLoad sends n requests, made by next, from c concurrent clients, and
// stops early when ctx ends.
func runLoad(ctx context.Context, client *http.Client, n, c int, next func(i int) request) loadResult {
	var i atomic.Int64
	results := make([]loadResult, c)
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			r := &results[w]
			r.counts = map[string]int{}
			for {
				k := int(i.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				rq := next(k)
				start := time.Now()
				resp, err := client.Do(rq.req.WithContext(ctx))
				if err != nil {
					r.errors++
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					r.errors++
					continue
				}
				r.latencies = append(r.latencies, time.Since(start))
				r.counts[rq.label+" "+strconv.Itoa(resp.StatusCode)]++
			}
		})
	}
	wg.Wait()
	all := loadResult{counts: map[string]int{}}
	for _, r := range results {
		for k, v := range r.counts {
			all.counts[k] += v
		}
		all.errors += r.errors
		all.latencies = append(all.latencies, r.latencies...)
	}
	return all
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func newRequest(method, url, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		panic(err)
	}
	return req
}

// demoMix is a mix over the demo gateway's routes, with 404s on distinct
// raw paths.
func demoMix(base string) func(int) request {
	return func(i int) request {
		switch i % 10 {
		case 6:
			return request{newRequest("POST", base+"/tools/invoke", `{"tool":"fail"}`), "POST /tools/invoke"}
		case 7:
			return request{newRequest("GET", base+"/servers/"+strconv.Itoa(i)+"/sse?events=1", ""), "GET /servers/{id}/sse"}
		case 8:
			return request{newRequest("GET", base+"/nowhere/"+strconv.Itoa(i), ""), "GET none"}
		case 9:
			return request{newRequest("POST", base+"/tools/invoke", `not json`), "POST /tools/invoke"}
		}
		return request{newRequest("POST", base+"/tools/invoke", `{"tool":"echo"}`), "POST /tools/invoke"}
	}
}

// proxyUpstream starts a small service for the proxy to front.
func proxyUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(upstreamHandler())
	t.Cleanup(s.Close)
	return s
}

func upstreamHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]string{"id": "new"})
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
	})
	return mux
}

const proxyRoutes = "GET /items/{id},POST /items,GET /fail"

func proxyMix(base string) func(int) request {
	return func(i int) request {
		switch i % 10 {
		case 7:
			return request{newRequest("POST", base+"/items", `{}`), "POST /items"}
		case 8:
			return request{newRequest("GET", base+"/fail", ""), "GET /fail"}
		case 9:
			return request{newRequest("GET", base+"/unrouted/"+strconv.Itoa(i), ""), "GET none"}
		}
		return request{newRequest("GET", base+"/items/"+strconv.Itoa(i), ""), "GET /items/{id}"}
	}
}

// TestSoak sends -soak.requests requests at -soak.concurrency through the
// demo gateway and through the proxy, while a real Prometheus scrapes every
// second with a token and a second client scrapes in a loop. Every request
// that got a response is counted exactly once, every scrape succeeds, and
// the heap after a GC is what it was before the load. `make soak` runs it
// with 200,000 requests; the test command with fewer.
func TestSoak(t *testing.T) {
	if *soakRequests == 0 {
		t.Skip("run by make soak (-soak.requests=N)")
	}
	const secret = "soak-test-secret-0123456789abcdef0123"
	token, err := auth.Mint(auth.MintOptions{Username: "prometheus@monitoring", Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"ENABLE_METRICS": "true", "JWT_SECRET_KEY": secret,
		// So that sum(http_requests_total) is the load alone.
		"METRICS_EXCLUDED_HANDLERS": "/metrics/prometheus",
	}
	for _, mode := range []string{"demo", "proxy"} {
		t.Run(mode, func(t *testing.T) {
			v := maps.Clone(vars)
			mix := demoMix
			if mode == "proxy" {
				v["UPSTREAM_URL"] = proxyUpstream(t).URL
				v["METRICS_ROUTES"] = proxyRoutes
				mix = proxyMix
			}
			b := startBridge(t, v)
			soak(t, b, token, mix(b.base))
		})
	}
}

func soak(t *testing.T, b *bridge, token string, mix func(int) request) {
	n, c := *soakRequests, *soakConcurrency
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(b.base, "http://")
	prom := promtest.Start(t, fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: soak
    metrics_path: /metrics/prometheus
    authorization: {credentials_file: %s}
    static_configs: [{targets: [%q]}]
`, filepath.Join(dir, "token"), target))
	prom.WaitFor(t, `up{job="soak"} == 1`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })

	tr := &http.Transport{MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	warm := runLoad(ctx, client, 2000, c, mix)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	// The second scraper: as fast as it can, for as long as the load runs.
	var scrapeLat []time.Duration
	var scrapeFail []string
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		sc := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		defer sc.CloseIdleConnections()
		for {
			select {
			case <-stop:
				return
			default:
			}
			req := newRequest("GET", b.metrics, "")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept-Encoding", "gzip")
			start := time.Now()
			resp, err := sc.Do(req)
			if err != nil {
				scrapeFail = append(scrapeFail, err.Error())
				continue
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				scrapeFail = append(scrapeFail, fmt.Sprintf("%d %v", resp.StatusCode, err))
				continue
			}
			scrapeLat = append(scrapeLat, time.Since(start))
		}
	}()
	start := time.Now()
	load := runLoad(ctx, client, n-warm.total()-warm.errors, c, func(i int) request { return mix(i + 2000) })
	elapsed := time.Since(start)
	close(stop)
	<-scraped
	if ctx.Err() != nil {
		t.Fatalf("the load did not finish within 10 minutes: %d of %d requests", load.total(), n)
	}

	for k, v := range warm.counts {
		load.counts[k] += v
	}
	load.errors += warm.errors
	if load.errors != 0 {
		t.Errorf("%d requests failed on the client side", load.errors)
	}
	sent := load.total()
	got := requestCounts(t, client, b.metrics, token)
	if !maps.Equal(got, load.counts) {
		t.Errorf("http_requests_total = %v\nclients saw %v", got, load.counts)
	}
	prom.WaitFor(t, `sum(http_requests_total{job="soak"})`, 30*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 1 && s[0].Value == float64(sent)
	})
	ups := prom.WaitFor(t, `count_over_time(up{job="soak"}[1h]) - sum_over_time(up{job="soak"}[1h])`, 5*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 })
	if ups[0].Value != 0 {
		t.Errorf("%v of Prometheus's scrapes failed", ups[0].Value)
	}
	promScrape := prom.WaitFor(t, `max_over_time(scrape_duration_seconds{job="soak"}[1h])`, 5*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 })
	if len(scrapeFail) > 0 {
		t.Errorf("%d of the loop scraper's %d scrapes failed, first: %s", len(scrapeFail), len(scrapeFail)+len(scrapeLat), scrapeFail[0])
	}

	t.Logf("%d requests (%d clients) in %s: %.0f req/s, latency p50 %s p99 %s",
		sent, c, elapsed.Round(time.Millisecond), float64(sent-warm.total())/elapsed.Seconds(),
		percentile(load.latencies, 0.5), percentile(load.latencies, 0.99))
	t.Logf("loop scraper: %d scrapes, p50 %s p99 %s; Prometheus: slowest scrape %.3fs",
		len(scrapeLat), percentile(scrapeLat, 0.5), percentile(scrapeLat, 0.99), promScrape[0].Value)
	// The test's own record of latencies grows with the load; drop it so
	// the heap shows the bridge's memory.
	load.latencies, scrapeLat = nil, nil
	tr.CloseIdleConnections()
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap after GC: %.1f MiB before, %.1f MiB after (%+.1f MiB); goroutines %d before, %d after",
		mib(before.HeapAlloc), mib(after.HeapAlloc), float64(growth)/(1<<20), goroutinesBefore, runtime.NumGoroutine())
	// The series are bounded and nothing is kept per request, so the heap
	// must not grow with the number of requests.
	if growth > 4<<20 {
		t.Errorf("heap grew by %.1f MiB over %d requests", float64(growth)/(1<<20), sent)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
