package otelmetrics

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// inProgressLines are the scrape's lines of the in-flight gauges, in
// either naming, sorted.
func inProgressLines(t testing.TB, p *Provider) []string {
	t.Helper()
	var out []string
	for _, l := range seriesOf(t, scrape(t, p)) {
		if strings.HasPrefix(l, "http_requests_inprogress") || strings.HasPrefix(l, "http_server_active_requests") {
			out = append(out, l)
		}
	}
	return out
}

// waitInProgress waits, within a bound, until the scrape's in-flight lines
// are want: the client may read a response before the middleware's
// deferred bookkeeping has run.
func waitInProgress(t testing.TB, p *Provider, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := inProgressLines(t, p)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in-flight series %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every way a request can end takes it out of the count: returning,
// panicking, aborting, being given up by http.TimeoutHandler (above or
// below the middleware), hijacking the connection. Each request is held
// in the handler until the scrape has seen it in flight.
func TestInProgressBackToZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		// build returns the handler to serve, around the middleware m of
		// inner, which blocks until release is closed.
		build  func(m func(http.Handler) http.Handler, inner http.Handler) http.Handler
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"returns", nil, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }},
		{"panics", nil, func(http.ResponseWriter, *http.Request) { panic("boom") }},
		{"aborts", nil, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
		{"hijacks", nil, func(w http.ResponseWriter, _ *http.Request) {
			c, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			_ = brw.Flush()
			// The connection outlives the handler, as a WebSocket's does.
			go func() { time.Sleep(50 * time.Millisecond); _ = c.Close() }()
		}},
		{"timeout-handler-inside", func(m func(http.Handler) http.Handler, inner http.Handler) http.Handler {
			return m(http.TimeoutHandler(inner, 20*time.Millisecond, "late"))
		}, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }},
		{"timeout-handler-outside", func(m func(http.Handler) http.Handler, inner http.Handler) http.Handler {
			return http.TimeoutHandler(m(inner), 20*time.Millisecond, "late")
		}, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, map[string]string{envInProgress: "true"})
			started, release := make(chan struct{}), make(chan struct{})
			finished := make(chan struct{})
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(finished)
				close(started)
				<-release
				tc.handle(w, r)
			})
			var h http.Handler = p.Middleware(inner)
			if tc.build != nil {
				h = tc.build(p.Middleware, inner)
			}
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.Start()
			t.Cleanup(srv.Close)

			got := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Get(srv.URL + "/x")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				got <- err
			}()
			<-started
			if tc.name == "timeout-handler-inside" {
				// The middleware returns once the TimeoutHandler gives up,
				// while the handler still runs: the request is over for
				// the client and for the count.
				<-got
				waitInProgress(t, p, `http_requests_inprogress{method="GET"} 0`)
				close(release)
				<-finished
			} else {
				waitInProgress(t, p, `http_requests_inprogress{method="GET"} 1`)
				close(release)
				<-finished
				<-got
			}
			waitInProgress(t, p, `http_requests_inprogress{method="GET"} 0`)
		})
	}
}

// A request's count goes under its method and scheme; over OTLP the
// instrument is http.server.active_requests with those two attributes, as
// the semantic conventions define it; the scrape serves it in the chosen
// naming.
func TestInProgressSeries(t *testing.T) {
	for _, tc := range []struct {
		names string
		want  []string
	}{
		{"instrumentator", []string{`http_requests_inprogress{method="POST"} 1`, `http_requests_inprogress{method="_OTHER"} 0`}},
		{"semconv", []string{
			`http_server_active_requests{http_request_method="POST",url_scheme="http"} 1`,
			`http_server_active_requests{http_request_method="_OTHER",url_scheme="https"} 0`,
		}},
		{"both", []string{
			`http_requests_inprogress{method="POST"} 1`, `http_requests_inprogress{method="_OTHER"} 0`,
			`http_server_active_requests{http_request_method="POST",url_scheme="http"} 1`,
			`http_server_active_requests{http_request_method="_OTHER",url_scheme="https"} 0`,
		}},
	} {
		t.Run(tc.names, func(t *testing.T) {
			cfg, err := ConfigFromEnv(env.Map(map[string]string{envEnableMetrics: "true", envInProgress: "true", envPrometheusNames: tc.names}))
			if err != nil {
				t.Fatal(err)
			}
			push := sdkmetric.NewManualReader()
			p, err := NewProvider(cfg, WithReader(push))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(t.Context()) })

			var during []string
			var pushed []string
			h := p.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost {
					return
				}
				during = inProgressLines(t, p)
				var rm metricdata.ResourceMetrics
				if err := push.Collect(r.Context(), &rm); err != nil {
					t.Error(err)
				}
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						if m.Name != "http.server.active_requests" {
							continue
						}
						if m.Unit != "{request}" {
							t.Errorf("unit %q", m.Unit)
						}
						s := m.Data.(metricdata.Sum[int64])
						if s.IsMonotonic {
							t.Error("monotonic")
						}
						for _, dp := range s.DataPoints {
							pushed = append(pushed, dp.Attributes.Encoded(attribute.DefaultEncoder()))
						}
					}
				}
			}))
			r := httptest.NewRequest("PROPFIND", "https://example.com/x", nil) // r.TLS is set
			h.ServeHTTP(httptest.NewRecorder(), r)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/tools/invoke", nil))
			slices.Sort(during)
			if !slices.Equal(during, tc.want) {
				t.Errorf("during the POST: %q, want %q", during, tc.want)
			}
			slices.Sort(pushed)
			if want := []string{"http.request.method=POST,url.scheme=http", "http.request.method=_OTHER,url.scheme=https"}; !slices.Equal(pushed, want) {
				t.Errorf("pushed %q, want %q", pushed, want)
			}
		})
	}
}

// Off, nothing is served; on, no series appears before a request came.
func TestInProgressOff(t *testing.T) {
	p := newTestProvider(t, nil)
	do(p.Middleware(testMux()), http.MethodGet, "/health")
	if got := inProgressLines(t, p); len(got) != 0 {
		t.Errorf("METRICS_IN_PROGRESS unset: %q", got)
	}
	if strings.Contains(scrape(t, newTestProvider(t, map[string]string{envInProgress: "true"})), "inprogress") {
		t.Error("a gauge before any request")
	}
}

// Counting requests in flight adds no allocation to a request.
func TestInProgressAllocatesNothing(t *testing.T) {
	mux := testMux()
	w := &discardWriter{h: http.Header{}}
	allocs := func(vars map[string]string) float64 {
		h := newTestProvider(t, vars).Middleware(mux)
		r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
		h.ServeHTTP(w, r) // creates the series
		return testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	}
	off, on := allocs(nil), allocs(map[string]string{envInProgress: "true"})
	if on > off {
		t.Errorf("%v allocations a request with METRICS_IN_PROGRESS=true, %v without", on, off)
	}
}

// A real Prometheus 3 scraping the endpoint sees a held request as 1 and,
// once it ends, 0, and promtool accepts the gauge.
func TestInProgressPrometheus(t *testing.T) {
	p := newTestProvider(t, map[string]string{envInProgress: "true"})
	started, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.MetricsHandler())
	mux.Handle("GET /slow", p.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: bridge
    static_configs:
      - targets: [`+strings.TrimPrefix(srv.URL, "http://")+`]
`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := srv.Client().Get(srv.URL + "/slow"); err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-started
	value := func(want float64) func([]promtest.Sample) bool {
		return func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == want }
	}
	q := `http_requests_inprogress{method="GET"}`
	prom.WaitFor(t, q, 30*time.Second, value(1))
	close(release)
	<-done
	prom.WaitFor(t, q, 30*time.Second, value(0))
	promtest.CheckMetrics(t, []byte(scrape(t, p)))
}
