package otelmetrics

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The wrapper must not break streaming: an SSE handler flushing through
// http.ResponseController (and through a plain http.Flusher assertion)
// reaches the client before the handler returns.
func TestStreamingFlushesThroughMiddleware(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush func(http.ResponseWriter) error
	}{
		{"ResponseController", func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() }},
		{"http.Flusher", func(w http.ResponseWriter) error {
			f, ok := w.(http.Flusher)
			if !ok {
				return fmt.Errorf("%T hides http.Flusher", w)
			}
			f.Flush()
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, nil)
			release := make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /servers/{id}/sse", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: first\n\n")
				if err := tc.flush(w); err != nil {
					t.Error(err)
				}
				<-release
				_, _ = io.WriteString(w, "data: last\n\n")
			})
			srv := httptest.NewServer(p.Middleware(mux))
			defer srv.Close()

			resp, err := http.Get(srv.URL + "/servers/7/sse")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Fatalf("first event before the handler finished: %q, %v", line, err)
			}
			close(release)
			_, _ = io.Copy(io.Discard, resp.Body)
			waitForSeries(t, p, `http_requests_total{handler="/servers/{id}/sse",method="GET",status="200"} 1`)
		})
	}
}

func TestHijackIsRecordedAs101(t *testing.T) {
	p := newTestProvider(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			t.Errorf("%T hides http.Hijacker", w)
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
	})
	srv := httptest.NewServer(p.Middleware(mux))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	status, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("status line %q", status)
	}
	waitForSeries(t, p, `http_requests_total{handler="/ws",method="GET",status="101"} 1`)
}

// waitForSeries scrapes until want appears: the server records after the
// response is complete, which the client may observe first.
func waitForSeries(t *testing.T, p *Provider, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := seriesOf(t, scrape(t, p))
		if slices.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing %s in\n%s", want, strings.Join(got, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// discardWriter is a ResponseWriter that allocates nothing, so the
// allocation count below is the middleware's own.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// The middleware allocates one object per request once its series exists:
// the request's state (status and route, shared by the writer and the
// context the request carries to the router), around a ServeMux as around
// anything else.
func TestMiddlewareSteadyStateAllocations(t *testing.T) {
	p := newTestProvider(t, map[string]string{envExcludedHandlers: "/static/.*"})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/invoke", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
	bare := testing.AllocsPerRun(1000, func() { mux.ServeHTTP(w, r) })
	for _, tc := range []struct {
		name string
		h    http.Handler
		want float64
	}{
		{"around the mux", p.Middleware(mux), 1},
		{"around RoutePattern(mux)", p.Middleware(RoutePattern(mux)), 1},
	} {
		tc.h.ServeHTTP(w, r) // creates the series
		got := testing.AllocsPerRun(1000, func() { tc.h.ServeHTTP(w, r) })
		if got-bare != tc.want {
			t.Errorf("%s: middleware allocates %.1f per request on top of the mux's %.1f; want %v", tc.name, got-bare, bare, tc.want)
		}
	}
}

// Many clients and concurrent scrapers: every request is counted, and the
// scrapes succeed while recording goes on. Run with -race.
func TestConcurrentRequestsAndScrapesLoseNothing(t *testing.T) {
	p := newTestProvider(t, nil)
	mux := testMux()
	mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
	srv := httptest.NewServer(p.Middleware(mux))
	defer srv.Close()

	const clients, perClient = 8, 250
	paths := []string{"/health", "/unavailable", "/servers/1/sse", "/nope"}
	var wg sync.WaitGroup
	done := make(chan struct{})
	var scrapes atomic.Int64
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := http.Get(srv.URL + "/metrics/prometheus")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("scrape status %d", resp.StatusCode)
				}
				scrapes.Add(1)
			}
		})
	}
	var clientsWG sync.WaitGroup
	for c := range clients {
		clientsWG.Go(func() {
			for i := range perClient {
				resp, err := http.Get(srv.URL + paths[(c+i)%len(paths)])
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	clientsWG.Wait()
	close(done)
	wg.Wait()

	// The server records a request just after its response is complete, so
	// the last few may land a moment after the clients return.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var total, scraped float64
		for _, m := range parse(t, scrape(t, p))["http_requests_total"].GetMetric() {
			if labelString(m.GetLabel(), "") == `{handler="/metrics/prometheus",method="GET",status="200"}` {
				scraped = m.GetCounter().GetValue()
				continue
			}
			total += m.GetCounter().GetValue()
		}
		if total == clients*perClient && scraped == float64(scrapes.Load()) && scraped > 0 {
			return
		}
		if time.Now().After(deadline) || total > clients*perClient {
			t.Fatalf("counted %v requests and %v scrapes, made %d and %d", total, scraped, clients*perClient, scrapes.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
