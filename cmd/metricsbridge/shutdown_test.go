package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	"github.com/metricsbridge/metricsbridge/internal/promtest"

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

// builtBinary is this command built once per test binary run; the
// tests that need the real process and real signals share it.
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "metricsbridge-bin-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "metricsbridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// builtDir holds the built binary; TestMain removes it.
var builtDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// buildBinary returns the built command, failing t when it does not build.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// An OTLP endpoint where nothing listens: the first export fails within
// seconds of the start and says so, and SIGTERM exits 0 within
// SHUTDOWN_TIMEOUT (plus the final export's minimum second) although the
// export timeout is 30 s, with what the last export could not deliver
// logged and counted. The real binary gets the real signal.
func TestShutdownWithOTLPDestinationDown(t *testing.T) {
	bin := buildBinary(t)
	for _, temporality := range []string{"delta", "cumulative"} {
		t.Run(temporality, func(t *testing.T) {
			dead := promtest.FreeAddr(t) // nothing listens there
			const shutdownTimeout = 3 * time.Second
			logs := &logbuf.Buffer{}
			cmd := exec.Command(bin, "serve")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
				"ENABLE_METRICS=true", "AUTH_REQUIRED=false", "PORT=0", "SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(),
				"OTEL_METRICS_EXPORTER=prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + dead,
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=" + temporality}
			cmd.Stdout, cmd.Stderr = io.Discard, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			var base string
			for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
				if m := gatewayRE.FindStringSubmatch(logs.String()); m != nil {
					base = m[1]
				} else if time.Now().After(deadline) {
					t.Fatalf("no start-up line:\n%s", logs)
				}
			}
			for deadline := started.Add(5 * time.Second); !strings.Contains(logs.String(), "OTLP export failed"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no export failure logged within 5 s of the start:\n%s", logs)
				}
			}
			t.Logf("first failure logged %s after the start", time.Since(started).Round(time.Millisecond))
			client := &http.Client{Transport: &http.Transport{}}
			t.Cleanup(client.CloseIdleConnections)
			for range 5 {
				resp, err := client.Post(base+"/tools/invoke", "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}

			stopped := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				took := time.Since(stopped)
				t.Logf("exit after %s: %v", took.Round(time.Millisecond), err)
				if err != nil {
					t.Errorf("exit: %v, want status 0:\n%s", err, logs)
				}
				if took > shutdownTimeout+1500*time.Millisecond {
					t.Errorf("shutdown took %s with SHUTDOWN_TIMEOUT=%s:\n%s", took, shutdownTimeout, logs)
				}
			case <-time.After(40 * time.Second):
				t.Fatalf("no exit 40 s after SIGTERM:\n%s", logs)
			}
			m := regexp.MustCompile(`OTLP export at shutdown failed: data not delivered" .*data_points=(\d+)`).FindStringSubmatch(logs.String())
			if m == nil || m[1] == "0" {
				t.Errorf("what was not delivered is not logged with its count:\n%s", logs)
			}
		})
	}
}
