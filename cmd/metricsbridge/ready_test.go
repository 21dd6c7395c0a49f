package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

const probes = 2000

// With the upstream down, 2,000 probes write one WARN line (then one per
// 10 s with the count left out) and dial the upstream about once a second,
// not 2,000 times.
func TestReadyUpstreamDownLogsAndDialsBounded(t *testing.T) {
	closed, _ := url.Parse("http://" + promtest.FreeAddr(t))
	logs := &logbuf.Buffer{}
	r := newReadiness(closed, newLogger(logs, serverSettings{}))
	var dials atomic.Int64
	r.dial = func(ctx context.Context, u *url.URL) error {
		dials.Add(1)
		return dialUpstream(ctx, u) // the real dial, to a closed port
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	client := srv.Client()

	start := time.Now()
	var wg sync.WaitGroup
	var unready atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < probes; i += 8 {
				code, _ := get(t, client, srv.URL, nil)
				if code == http.StatusServiceUnavailable {
					unready.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	if unready.Load() != probes {
		t.Errorf("%d of %d probes answered 503", unready.Load(), probes)
	}
	lines := strings.Count(logs.String(), "readiness: upstream unreachable")
	if want := int(elapsed/logEvery) + 1; lines < 1 || lines > want {
		t.Errorf("%d probes in %s wrote %d WARN lines, want 1 to %d:\n%s", probes, elapsed, lines, want, logs)
	}
	if n := dials.Load(); n < 1 || n > int64(elapsed/readyCacheTTL)+1 {
		t.Errorf("%d probes in %s dialled %d times, want at most one per %s", probes, elapsed, n, readyCacheTTL)
	}
	t.Logf("%d probes in %s: %d dials, %d log lines", probes, elapsed.Round(time.Millisecond), dials.Load(), lines)

	// The next line that gets through says how many were left out.
	r.failures.last.Store(0)
	r.checked = time.Time{}
	if code, _ := get(t, client, srv.URL, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready: %d", code)
	}
	if !strings.Contains(logs.String(), "similar_failures_not_logged="+itoa(probes-1)) {
		t.Errorf("the second line does not count the %d left out:\n%s", probes-1, logs)
	}
}

// The serve binary in proxy mode: 2,000 probes against a live upstream
// open about one connection a second to it, and a change of state shows
// within the cache's lifetime.
func TestReadyProbesCached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close()
		}
	}()
	b := startBridge(t, map[string]string{"UPSTREAM_URL": "http://" + ln.Addr().String()})
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	start := time.Now()
	for range probes {
		if code, body := get(t, client, b.base+"/ready", nil); code != http.StatusOK {
			t.Fatalf("/ready: %d %s", code, body)
		}
	}
	elapsed := time.Since(start)
	if n := accepts.Load(); n < 1 || n > int64(elapsed/readyCacheTTL)+1 {
		t.Errorf("%d probes in %s opened %d connections to the upstream, want at most one per %s", probes, elapsed, n, readyCacheTTL)
	}
	t.Logf("%d probes in %s: %d connections to the upstream", probes, elapsed.Round(time.Millisecond), accepts.Load())

	ln.Close()
	deadline := time.Now().Add(readyCacheTTL + 2*time.Second)
	for {
		code, _ := get(t, client, b.base+"/ready", nil)
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready still %d %s after the upstream closed", code, time.Since(deadline.Add(-readyCacheTTL-2*time.Second)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(b.stderr.String(), "readiness: upstream unreachable"); n != 1 {
		t.Errorf("%d WARN lines, want 1:\n%s", n, b.stderr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
