package otelmetrics

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/metricsbridge/metricsbridge/promexport"
)

//go:generate go run ./internal/writergen

// HandlerNone is the handler label of a request that matched no route.
const HandlerNone = promexport.HandlerNone

// Middleware wraps next so every finished request is recorded once in
// http.server.request.duration, from which the scrape endpoint derives
// http_requests_total and http_request_duration_seconds.
//
// The route template comes from whatever knows it, through the request's
// context, so middleware between this one and the router that copies the
// request (request IDs, auth, http.TimeoutHandler, http.StripPrefix) does
// not lose it: SetRoute from a router's hook (chi, gorilla/mux, echo,
// gin), RoutePattern around an *http.ServeMux, or, when next is the
// ServeMux itself, the Request.Pattern it sets.
//
// The response writer handed to next has exactly the optional interfaces
// (http.Flusher, http.Hijacker, io.ReaderFrom, io.StringWriter,
// http.Pusher, http.CloseNotifier) of the one it wraps, and unwraps for
// http.ResponseController.
//
// When next is an *http.ServeMux, nothing can copy the request between the
// two, so the Pattern the mux sets is the route and the request goes down
// as it came: no copy, one allocation per request instead of two.
func (p *Provider) Middleware(next http.Handler) http.Handler {
	_, mux := next.(*http.ServeMux)
	return &middleware{next: next, inst: p.inst, mux: mux}
}

type middleware struct {
	next http.Handler
	inst *instruments
	mux  bool // next is an *http.ServeMux
}

// reqState is one request's status and route. The request's context and
// response writer both point to it; it is never reused, so a handler
// goroutine that outlives its request cannot write into another one.
type reqState struct {
	parent      context.Context
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	connect     bool
	route       string
	routed      bool
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.inst.excluded != nil && m.inst.excluded.MatchString(r.URL.Path) {
		m.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	// One allocation for the state and, unless next is the mux, one for
	// the request copy that carries it: what surviving copies costs.
	s := &reqState{parent: r.Context(), w: w, status: http.StatusOK, connect: r.Method == http.MethodConnect}
	r2 := r
	if !m.mux {
		r2 = r.WithContext(stateCtx{s})
	}
	defer func() {
		status := s.status
		p := recover()
		// http.ErrAbortHandler after the header went out is how a proxy
		// ends a stream the client or upstream broke: the client saw the
		// status already written, so that is what is counted.
		if p != nil && (p != http.ErrAbortHandler || !s.wroteHeader) {
			status = http.StatusInternalServerError
		}
		route, pattern := s.route, false
		if !s.routed {
			route, pattern = r2.Pattern, true
		}
		m.inst.record(r2, status, route, pattern, time.Since(start))
		if p != nil {
			panic(p) // recorded; net/http (or an outer recoverer) handles it as before
		}
	}()
	m.next.ServeHTTP(wrap(s, w), r2)
}

// wrap returns the writer for s with the optional interfaces of w.
func wrap(s *reqState, w http.ResponseWriter) http.ResponseWriter {
	var mask int
	if _, ok := w.(http.Flusher); ok {
		mask |= hasFlusher
	}
	if _, ok := w.(http.Hijacker); ok {
		mask |= hasHijacker
	}
	if _, ok := w.(io.ReaderFrom); ok {
		mask |= hasReaderFrom
	}
	if _, ok := w.(io.StringWriter); ok {
		mask |= hasStringWriter
	}
	if _, ok := w.(http.Pusher); ok {
		mask |= hasPusher
	}
	if _, ok := w.(http.CloseNotifier); ok { //nolint:staticcheck // gin and older code still assert it
		mask |= hasCloseNotifier
	}
	return wrappers[mask](s)
}

// record measures one request; route is a ServeMux pattern when pattern
// is true.
func (in *instruments) record(r *http.Request, status int, route string, pattern bool, d time.Duration) {
	if route == "" && !routelessStatus(status) {
		in.unrouted()
	}
	s := in.cache.get(seriesKey{
		method:  methodIndex(r.Method),
		status:  uint16(status),
		https:   r.TLS != nil,
		pattern: pattern && route != "",
		route:   route,
	})
	if s.excluded {
		return
	}
	in.duration.Record(r.Context(), d.Seconds(), s.rec...)
}

// routelessStatus is true of the answers a router gives when nothing
// matched: not found, method not allowed, and ServeMux's redirects to the
// canonical path.
func routelessStatus(code int) bool {
	switch code {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusMovedPermanently,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// rw is the writer's common part; writer_gen.go adds the optional
// interfaces in every combination. A struct of one pointer is stored in
// an interface without allocating.
type rw struct{ s *reqState }

func (w rw) Header() http.Header { return w.s.w.Header() }

func (w rw) WriteHeader(code int) {
	// 1xx other than 101 are interim responses; the final code comes later.
	if !w.s.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.s.status, w.s.wroteHeader = code, true
	}
	w.s.w.WriteHeader(code)
}

func (w rw) Write(b []byte) (int, error) {
	w.s.wroteHeader = true
	return w.s.w.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w rw) Unwrap() http.ResponseWriter { return w.s.w }

func (s *reqState) flush() {
	s.wroteHeader = true
	s.w.(http.Flusher).Flush()
}

// hijack hands the connection over. A handler that takes it without
// writing a status is recorded as 101 (a WebSocket upgrade), or as 200
// for CONNECT, whose tunnel opens with "200 Connection established"
// written on the raw connection.
func (s *reqState) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := s.w.(http.Hijacker).Hijack()
	if err == nil && !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusSwitchingProtocols, true
		if s.connect {
			s.status = http.StatusOK
		}
	}
	return c, brw, err
}

func (s *reqState) readFrom(src io.Reader) (int64, error) {
	s.wroteHeader = true
	return s.w.(io.ReaderFrom).ReadFrom(src)
}

func (s *reqState) writeString(str string) (int, error) {
	s.wroteHeader = true
	return s.w.(io.StringWriter).WriteString(str)
}

func (s *reqState) push(target string, opts *http.PushOptions) error {
	return s.w.(http.Pusher).Push(target, opts)
}

func (s *reqState) closeNotify() <-chan bool {
	return s.w.(http.CloseNotifier).CloseNotify() //nolint:staticcheck // see wrap
}
