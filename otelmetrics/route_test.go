package otelmetrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// requestID copies the request, as request-id, auth and tracing
// middleware do.
func requestID(next http.Handler) http.Handler {
	type key struct{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "id-1")))
	})
}

// Middleware that copies the request between the bridge and the router
// used to make every request handler="none", silently. The route now
// travels in the context: RoutePattern for a ServeMux, SetRoute for a
// router's hook, through copies of any depth, http.StripPrefix and
// http.TimeoutHandler included.
func TestRouteSurvivesRequestCopies(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What a router's hook does with its own template syntax.
		SetRoute(r.Context(), "/users/:id")
	})
	for _, tc := range []struct {
		name   string
		chain  func(http.Handler) http.Handler
		inner  http.Handler
		target string
		want   string
	}{
		{"request id before the mux", requestID, RoutePattern(mux), "/health", `{handler="/health",method="GET",status="200"}`},
		{"two copies", func(h http.Handler) http.Handler { return requestID(requestID(h)) }, RoutePattern(mux), "/users/7", `{handler="/users/{id}",method="GET",status="200"}`},
		{"StripPrefix", func(h http.Handler) http.Handler { return http.StripPrefix("/api", h) }, RoutePattern(mux), "/api/users/7", `{handler="/users/{id}",method="GET",status="200"}`},
		{"TimeoutHandler", func(h http.Handler) http.Handler { return http.TimeoutHandler(h, time.Second, "slow") }, RoutePattern(mux), "/health", `{handler="/health",method="GET",status="200"}`},
		{"router hook", requestID, hook, "/users/7", `{handler="/users/:id",method="GET",status="200"}`},
		{"unmatched stays none", requestID, RoutePattern(mux), "/nope", `{handler="none",method="GET",status="404"}`},
		{"the mux itself, no wrapper", func(h http.Handler) http.Handler { return h }, mux, "/users/7", `{handler="/users/{id}",method="GET",status="200"}`},
		{"RoutePattern, nothing between", func(h http.Handler) http.Handler { return h }, RoutePattern(mux), "/users/7", `{handler="/users/{id}",method="GET",status="200"}`},
		// A hook that reported a route on the very request RoutePattern
		// gets: the mux's pattern, reported later and below, wins.
		{"a route set before RoutePattern", func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				SetRoute(r.Context(), "/outer/*")
				h.ServeHTTP(w, r)
			})
		}, RoutePattern(mux), "/users/7", `{handler="/users/{id}",method="GET",status="200"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, nil)
			do(p.Middleware(tc.chain(tc.inner)), "GET", tc.target)
			got := seriesOf(t, scrape(t, p))
			if want := "http_requests_total" + tc.want + " 1"; !slices.Contains(got, want) {
				t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
			}
		})
	}
}

// Without RoutePattern, a copy hides the pattern: the requests are still
// counted, as none, and once they keep coming the log says how to fix it
// and the self-metric counts them. 404s and 405s are not counted there.
func TestUnroutedRequestsAreReported(t *testing.T) {
	var logs logbuf.Buffer
	cfg := DefaultConfig()
	cfg.Enabled = true
	p, err := NewProvider(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
	h := p.Middleware(requestID(mux))
	for range 3 {
		do(h, "GET", "/nope")
		do(h, "POST", "/health")
	}
	for range 25 {
		do(h, "GET", "/health")
	}
	got := seriesOf(t, scrape(t, p))
	for _, want := range []string{
		`http_requests_total{handler="none",method="GET",status="200"} 25`,
		`metricsbridge_unrouted_requests_total 25`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	if n := strings.Count(logs.String(), "otelmetrics.RoutePattern"); n != 1 {
		t.Errorf("%d hints in the log, want 1:\n%s", n, logs.String())
	}
}

// A proxy whose route list covers part of its upstream turns the hint
// off; the count stays.
func TestUnroutedWarningOff(t *testing.T) {
	var logs logbuf.Buffer
	cfg := DefaultConfig()
	cfg.Enabled = true
	p, err := NewProvider(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithoutUnroutedWarning())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	h := p.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 2 * unroutedWarnAfter {
		do(h, "GET", "/anything")
	}
	if got := seriesOf(t, scrape(t, p)); !slices.Contains(got, `metricsbridge_unrouted_requests_total 20`) {
		t.Errorf("unrouted requests not counted:\n%s", strings.Join(got, "\n"))
	}
	if strings.Contains(logs.String(), "no route template") {
		t.Errorf("hint logged although switched off:\n%s", logs.String())
	}
}

// A handler goroutine that keeps w after returning writes to its own,
// finished response, never into a later request's: request B's body is
// B's alone.
func TestWriterKeptAfterReturnTouchesNoOtherRequest(t *testing.T) {
	p := newTestProvider(t, nil)
	kept := make(chan http.ResponseWriter, 1)
	late := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "secret-of-A;")
		kept <- w
	})
	mux.HandleFunc("GET /b", func(w http.ResponseWriter, _ *http.Request) {
		<-late
		_, _ = io.WriteString(w, "B")
	})
	h := p.Middleware(mux)
	recA := httptest.NewRecorder()
	h.ServeHTTP(recA, httptest.NewRequest("GET", "/a", nil))
	w := <-kept
	recB := httptest.NewRecorder()
	var wg sync.WaitGroup
	wg.Go(func() { h.ServeHTTP(recB, httptest.NewRequest("GET", "/b", nil)) })
	_, _ = io.WriteString(w, "late write")
	close(late)
	wg.Wait()
	if recB.Body.String() != "B" {
		t.Errorf("request B's body %q", recB.Body.String())
	}
}

// The writer has exactly the optional interfaces of the one it wraps.
func TestWriterInterfacesAreExact(t *testing.T) {
	type has struct{ flusher, hijacker, readerFrom, stringWriter, pusher, closeNotifier, flushError bool }
	check := func(w http.ResponseWriter) has {
		_, f := w.(http.Flusher)
		_, h := w.(http.Hijacker)
		_, rf := w.(io.ReaderFrom)
		_, sw := w.(io.StringWriter)
		_, pu := w.(http.Pusher)
		_, cn := w.(http.CloseNotifier) //nolint:staticcheck // checked on purpose
		_, fe := w.(interface{ FlushError() error })
		return has{f, h, rf, sw, pu, cn, fe}
	}
	bits := func(h has) int {
		m := 0
		for _, b := range []struct {
			has bool
			bit int
		}{
			{h.flusher, hasFlusher}, {h.hijacker, hasHijacker}, {h.readerFrom, hasReaderFrom},
			{h.stringWriter, hasStringWriter}, {h.pusher, hasPusher}, {h.closeNotifier, hasCloseNotifier},
			{h.flushError, hasFlushErrorer},
		} {
			if b.has {
				m |= b.bit
			}
		}
		return m
	}
	for mask := range len(wrappers) {
		// A writer with the interfaces of mask's bits, no more.
		under := wrappers[mask](&reqState{w: fullWriter{httptest.NewRecorder()}})
		want := check(under)
		if bits(want) != mask {
			t.Fatalf("writer %d has %+v", mask, want)
		}
		got := check(wrap(&reqState{w: under}, under))
		if got != want {
			t.Errorf("mask %06b: wrapper has %+v, writer has %+v", mask, got, want)
		}
	}
	// And over a real HTTP/1.1 connection, where io.StringWriter saves
	// io.WriteString a copy and FlushError reports a broken connection.
	p := newTestProvider(t, nil)
	var got, want has
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want = check(w)
		p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got = check(w) })).ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != want || !got.stringWriter || !got.flushError {
		t.Errorf("over HTTP/1.1 the wrapper has %+v, the server's writer %+v", got, want)
	}
}

// The middleware remembers which wrapper fits the first type of writer it
// serves; a writer of another type, served in between, still gets exactly
// its own interfaces.
func TestWriterInterfacesWithTwoWriterTypes(t *testing.T) {
	p := newTestProvider(t, nil)
	var got http.ResponseWriter
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got = w }))
	full := fullWriter{httptest.NewRecorder()}
	plain := &discardWriter{h: http.Header{}}
	for i, w := range []http.ResponseWriter{plain, full, plain, full} {
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		if gotMask, want := writerMask(got), writerMask(w); gotMask != want {
			t.Errorf("request %d: wrapper has interfaces %07b, its writer %07b", i, gotMask, want)
		}
	}
}

// A CONNECT tunnel answers "200 Connection established" on the hijacked
// connection: that is a 200, not a protocol switch.
func TestHijackedConnectIsRecordedAs200(t *testing.T) {
	p := newTestProvider(t, nil)
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "tunnel")
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = brw.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	if status, _ := bufio.NewReader(conn).ReadString('\n'); !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q", status)
	}
	waitForSeries(t, p, `http_requests_total{handler="none",method="CONNECT",status="200"} 1`)
}

// SetRoute outside the middleware is harmless; inside otelhttp it labels
// otelhttp's measurement.
func TestSetRouteWithoutMiddleware(t *testing.T) {
	if SetRoute(context.Background(), "/x") {
		t.Error("SetRoute reported a holder in an empty context")
	}
	p := newTestProvider(t, nil)
	h := otelhttp.NewHandler(requestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if !SetRoute(r.Context(), "/users/:id") {
			t.Error("SetRoute found no labeler under otelhttp")
		}
	})), "svc", otelhttp.WithMeterProvider(p.MeterProvider()))
	do(h, "GET", "/users/9")
	waitForSeries(t, p, `http_requests_total{handler="/users/:id",method="GET",status="200"} 1`)
}

// A request whose context holds a sampled span is an exemplar on the
// histogram bucket its duration fell in, with the trace and span IDs, in
// OpenMetrics scrapes; text scrapes carry none, and an unsampled span or
// METRICS_EXEMPLARS=false gives none.
func TestExemplars(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	withSpan := func(sampled bool, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, Remote: true})
			if sampled {
				sc = sc.WithTraceFlags(trace.FlagsSampled)
			}
			next.ServeHTTP(w, r.WithContext(trace.ContextWithRemoteSpanContext(r.Context(), sc)))
		})
	}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		sampled bool
		want    bool
	}{
		{"sampled", nil, true, true},
		{"not sampled", nil, false, false},
		{"switched off", map[string]string{envExemplars: "false"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, tc.vars)
			do(withSpan(tc.sampled, p.Middleware(testMux())), "GET", "/health")
			om := scrapeWith(t, p, "application/openmetrics-text;version=1.0.0")
			exemplar := `trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`
			if got := strings.Contains(om, exemplar) && strings.Contains(om, `span_id="00f067aa0ba902b7"`); got != tc.want {
				t.Errorf("exemplar in the OpenMetrics scrape: %t, want %t\n%s", got, tc.want, om)
			}
			for line := range strings.Lines(om) {
				if strings.Contains(line, "trace_id") && !strings.HasPrefix(line, "http_request_duration_seconds_bucket{") {
					t.Errorf("exemplar outside the duration buckets: %s", line)
				}
			}
			if text := scrape(t, p); strings.Contains(text, "trace_id") {
				t.Errorf("exemplar in a text scrape:\n%s", text)
			}
		})
	}
	// otelhttp outside the bridge's middleware, with a real tracer.
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p := newTestProvider(t, nil)
	var seen trace.SpanContext
	h := otelhttp.NewHandler(p.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
	})), "svc", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(p.MeterProvider()),
		otelhttp.WithFilter(func(*http.Request) bool { return true }))
	do(h, "GET", "/")
	if om := scrapeWith(t, p, "application/openmetrics-text;version=1.0.0"); !strings.Contains(om, `trace_id="`+seen.TraceID().String()+`"`) {
		t.Errorf("no exemplar of otelhttp's trace %s:\n%s", seen.TraceID(), om)
	}
}

func scrapeWith(t *testing.T, p *Provider, accept string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
	r.Header.Set("Accept", accept)
	p.MetricsHandler().ServeHTTP(rec, r)
	return rec.Body.String()
}

// fullWriter has every optional interface.
type fullWriter struct{ *httptest.ResponseRecorder }

func (fullWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}
func (f fullWriter) ReadFrom(src io.Reader) (int64, error) { return io.Copy(f.ResponseRecorder, src) }
func (fullWriter) Push(string, *http.PushOptions) error    { return http.ErrNotSupported }
func (fullWriter) CloseNotify() <-chan bool                { return nil }
func (fullWriter) FlushError() error                       { return nil }

// isClean is the fast answer to cleanPath(p) == p.
func TestIsClean(t *testing.T) {
	for _, p := range []string{
		"", "/", "//", "/a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/.well-known/x",
		"/a.b/c.d", "/a/b.", "a/b", ".", "/..", "/a/.b", "/%2e%2e/x", "/x/y/z/",
	} {
		if got, want := isClean(p), cleanPath(p) == p; got != want {
			t.Errorf("isClean(%q) = %t, cleanPath gives %q", p, got, cleanPath(p))
		}
	}
}
