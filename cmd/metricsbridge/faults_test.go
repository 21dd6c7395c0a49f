package main

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	"github.com/metricsbridge/metricsbridge/internal/promtest"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// loadClient is an HTTP client for c concurrent workers.
func loadClient(t *testing.T, c int) *http.Client {
	tr := &http.Transport{MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// backgroundLoad runs the load in the background and returns a function
// that blocks until at least k responses arrived, and the load's result.
func backgroundLoad(ctx context.Context, client *http.Client, n, c int, next func(int) request) (func(k int), <-chan loadResult) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	got := 0
	counted := func(i int) request {
		mu.Lock()
		got = i
		cond.Broadcast()
		mu.Unlock()
		return next(i)
	}
	done := make(chan loadResult, 1)
	go func() {
		r := runLoad(ctx, client, n, c, counted)
		mu.Lock()
		got = n
		cond.Broadcast()
		mu.Unlock()
		done <- r
	}()
	return func(k int) {
		mu.Lock()
		defer mu.Unlock()
		for got < k {
			cond.Wait()
		}
	}, done
}

// The upstream dies in the middle of a load and comes back on the same
// address: the requests it could not take are 502s, recorded as such, and
// every response the clients got is counted exactly once.
func TestFaultUpstreamKilled(t *testing.T) {
	addr := promtest.FreeAddr(t)
	startUpstream := func() *httptest.Server {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(upstreamHandler())
		s.Listener = ln
		s.Start()
		return s
	}
	up := startUpstream()
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"UPSTREAM_URL": "http://" + addr, "METRICS_ROUTES": proxyRoutes})
	client := loadClient(t, 16)
	const n = 6000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reached, done := backgroundLoad(ctx, client, n, 16, proxyMix(b.base))
	reached(1500)
	up.Close()
	reached(3000)
	up = startUpstream()
	defer up.Close()
	r := <-done
	if r.errors != 0 {
		t.Errorf("%d requests failed on the client side; the proxy should have answered each", r.errors)
	}
	bad := 0
	for k, v := range r.counts {
		if strings.HasSuffix(k, " 502") {
			bad += v
		}
	}
	if bad == 0 || bad == r.total() {
		t.Errorf("%d of %d requests were 502s: the outage was not seen, or never ended", bad, r.total())
	}
	t.Logf("%d requests, %d answered 502 during the outage", r.total(), bad)
	waitCounts(t, client, b.metrics, r.counts)

	// Recovery: after the restart, every request succeeds again.
	after := runLoad(ctx, client, 500, 16, proxyMix(b.base))
	for k := range after.counts {
		if strings.HasSuffix(k, " 502") {
			t.Errorf("after the upstream came back: %v", after.counts)
			break
		}
	}
}

// SIGTERM in the middle of a load: the server stops taking requests, and
// every request that got a response, no more and no fewer, is in the final
// push to a real Collector.
func TestFaultSIGTERMMidLoad(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	col := otlptest.StartCollector(t, sink)
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": col.Endpoint,
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
		"OTEL_METRIC_EXPORT_INTERVAL":                       "3600000",
	})
	client := loadClient(t, 32)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reached, done := backgroundLoad(ctx, client, 20000, 32, demoMix(b.base))
	reached(3000)
	if code := b.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, b.stderr)
	}
	r := <-done
	if r.errors == 0 {
		t.Fatal("no request failed after SIGTERM: the load ended before the signal")
	}
	t.Logf("%d responses before the server closed, %d refused after", r.total(), r.errors)
	sink.WaitTotal(t, mbsemconv.InstrumentHTTPServerDuration, int64(r.total()), 20*time.Second)
	want := map[string]int64{}
	for k, v := range r.counts {
		want[k] = int64(v)
	}
	if got := pushedCounts(sink); !maps.Equal(got, want) {
		t.Errorf("pushed %v\nclients got %v", got, want)
	}
}

// An OTLP destination that accepts connections and never answers does not
// slow requests down (none waits for an export) or pile up goroutines, and
// the failures are counted.
func TestFaultOTLPBlackHole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})

	const exportTimeout = 500 * time.Millisecond
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String(),
		"OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_METRIC_EXPORT_TIMEOUT": "500", "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
	})
	client := loadClient(t, 16)
	ctx := context.Background()
	// The same load on a bridge that does not push, for comparison.
	plain := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"})
	runLoad(ctx, client, 500, 16, demoMix(plain.base))
	baseline := runLoad(ctx, client, 4000, 16, demoMix(plain.base))
	plain.stop(t)
	warm := runLoad(ctx, client, 500, 16, demoMix(b.base))
	g1 := runtime.NumGoroutine()
	r := runLoad(ctx, client, 4000, 16, demoMix(b.base))
	time.Sleep(2 * time.Second) // several more intervals with the destination silent
	g2 := runtime.NumGoroutine()
	slowest := percentile(r.latencies, 1)
	t.Logf("%d requests with the OTLP destination black-holed: p50 %s, p99 %s, slowest %s; goroutines %d then %d",
		r.total(), percentile(r.latencies, 0.5), percentile(r.latencies, 0.99), slowest, g1, g2)
	t.Logf("the same without OTLP push: p50 %s, p99 %s, slowest %s",
		percentile(baseline.latencies, 0.5), percentile(baseline.latencies, 0.99), percentile(baseline.latencies, 1))
	if r.errors != 0 {
		t.Errorf("%d requests failed", r.errors)
	}
	// A request that waited on an export would take the export timeout,
	// and with an export hanging every 100 ms nearly every request would.
	// A machine that stalls the process for that long slows at most the
	// 16 requests in flight, so a few are let pass.
	var late int
	for _, d := range r.latencies {
		if d >= exportTimeout {
			late++
		}
	}
	if late > len(r.latencies)/100 {
		t.Errorf("%d of %d requests took the export timeout (%s) or longer, the slowest %s: requests wait for the exporter", late, len(r.latencies), exportTimeout, slowest)
	}
	if g2 > g1+10 {
		t.Errorf("goroutines grew from %d to %d while exports hung", g1, g2)
	}
	for k, v := range warm.counts {
		r.counts[k] += v
	}
	if got := requestCounts(t, client, b.metrics, ""); !maps.Equal(got, r.counts) {
		t.Errorf("http_requests_total = %v\nclients got %v", got, r.counts)
	}
	if !strings.Contains(scrapeText(t, client, b.metrics), `metricsbridge_otlp_exports_total{result="failure"}`) {
		t.Error("failed exports are not counted")
	}
	// The final push fails too, within its timeout, and says so; the exit
	// is still 0: the destination being down is not the process failing.
	stopped := time.Now()
	if code := b.stop(t); code != exitOK {
		t.Errorf("exit %d, want 0 for a final push that failed", code)
	}
	if !strings.Contains(b.stderr.String(), "OTLP export at shutdown failed") {
		t.Errorf("the failed final push is not logged:\n%s", b.stderr)
	}
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("shutdown took %s with the destination black-holed", d)
	}
}

func scrapeText(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	_, body := get(t, client, url, nil)
	return body
}
