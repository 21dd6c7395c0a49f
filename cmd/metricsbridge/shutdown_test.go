package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// pushedCounts sums the http.server.request.duration points the sink
// received (delta temporality) by "METHOD route status", with "none" for
// requests that matched no route, as the scrape's labels read.
func pushedCounts(sink *otlptest.Sink) map[string]int64 {
	points, _ := sink.Histograms(mbsemconv.InstrumentHTTPServerDuration)
	got := map[string]int64{}
	for _, dp := range points {
		attrs := otlptest.Attrs(dp.Attributes)
		route := attrs[string(mbsemconv.KeyHTTPRoute)]
		if route == "" {
			route = "none"
		}
		got[attrs[string(mbsemconv.KeyHTTPMethod)]+" "+route+" "+attrs[string(mbsemconv.KeyHTTPStatus)]] += int64(dp.GetCount())
	}
	return got
}

// SIGTERM stops new connections, lets the request in flight finish, cuts a
// stream that outlives SHUTDOWN_TIMEOUT, and pushes every request that got
// a response, those two included, to a real Collector before exiting 0.
func TestGracefulShutdown(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	col := otlptest.StartCollector(t, sink)

	started := make(chan struct{}, 1)
	up := newTestUpstream(t, map[string]http.HandlerFunc{"GET /slow-ok": func(w http.ResponseWriter, _ *http.Request) {
		started <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, "done")
	}})

	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"UPSTREAM_URL": up.URL, "METRICS_ROUTES": "POST /tools/invoke,GET /slow-ok,GET /servers/{id}/sse",
		"SHUTDOWN_TIMEOUT":      "1500ms",
		"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": col.Endpoint,
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
		// Far longer than the test: only the shutdown push can deliver.
		"OTEL_METRIC_EXPORT_INTERVAL": "3600000",
	})
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for range 5 {
		resp, err := client.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// A stream the upstream never ends: only the drain timeout stops it.
	stream, err := client.Get(b.base + "/servers/9/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if line, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil || line != "data: first 9\n" {
		t.Fatalf("first event %q, %v", line, err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := client.Get(b.base + "/slow-ok")
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		inFlight <- result{resp.StatusCode, string(body), err}
	}()
	<-started
	stopped := make(chan int, 1)
	go func() { stopped <- b.stop(t) }()

	addr := strings.TrimPrefix(b.base, "http://")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after SIGTERM")
		}
	}
	if r := <-inFlight; r.err != nil || r.code != 200 || r.body != "done" {
		t.Errorf("request in flight at SIGTERM: %d %q %v", r.code, r.body, r.err)
	}
	select {
	case code := <-stopped:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, b.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(b.stderr.String(), "in_flight=2") {
		t.Errorf("the drain did not see the two requests in flight:\n%s", b.stderr)
	}

	want := map[string]int64{"POST /tools/invoke 200": 5, "GET /slow-ok 200": 1, "GET /servers/{id}/sse 200": 1}
	sink.WaitTotal(t, mbsemconv.InstrumentHTTPServerDuration, 7, 20*time.Second)
	if got := pushedCounts(sink); len(got) != len(want) {
		t.Errorf("pushed %v, want %v", got, want)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("pushed %v, want %v", got, want)
				break
			}
		}
	}
}
