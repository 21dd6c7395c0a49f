package otelmetrics

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

//go:generate go run ./internal/writergen

// HandlerNone is the handler label of a request that matched no route.
const HandlerNone = "none"

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
// That context is set on the request the middleware is handed, before
// next runs, rather than on a copy (which would cost every request an
// allocation of the request's size): afterwards the caller's request
// carries a context that answers Done, Err, Deadline and Value exactly as
// its own did. As with an http.ServeMux, which sets Request.Pattern on the
// request it is handed, the caller must not read the request from another
// goroutine while the middleware starts.
//
// The response writer handed to next has exactly the optional interfaces
// (http.Flusher, http.Hijacker, io.ReaderFrom, io.StringWriter,
// http.Pusher, http.CloseNotifier, and FlushError) of the one it wraps,
// and unwraps for http.ResponseController.
//
// A handler that panics is recorded as 500 and the panic goes on. A panic
// with http.ErrAbortHandler, the way httputil.ReverseProxy ends a broken
// stream, keeps the status already written when it can have reached the
// client (the response was flushed, or more was written than net/http
// buffers); otherwise the connection is closed before any status line
// and the request is recorded as 500.
//
// With Config.InProgress, a request counts in http.server.active_requests
// from the moment the middleware sees it until next returns, however it
// returns: normally, by a panic (http.ErrAbortHandler included), after
// hijacking the connection, or when an http.TimeoutHandler below gave up
// on it.
func (p *Provider) Middleware(next http.Handler) http.Handler {
	return &middleware{next: next, inst: p.inst}
}

type middleware struct {
	next http.Handler
	inst *instruments
	// seen is the wrapper for the first type of writer served, which is
	// nearly always the type of every writer: the server's. Asking a
	// writer for each of the seven optional interfaces costs more than
	// comparing its type.
	seen atomic.Pointer[wrapperFor]
}

// wrapperFor is the wrapper that fits writers of type t.
type wrapperFor struct {
	t    reflect.Type
	wrap func(*reqState) http.ResponseWriter
}

// wrapper returns the wrapper for w's optional interfaces.
func (m *middleware) wrapper(w http.ResponseWriter) func(*reqState) http.ResponseWriter {
	t := reflect.TypeOf(w)
	if seen := m.seen.Load(); seen != nil && seen.t == t {
		return seen.wrap
	}
	f := wrappers[writerMask(w)]
	m.seen.CompareAndSwap(nil, &wrapperFor{t, f})
	return f
}

// reqState is one request's status and route. The request's context and
// the response writer both point here. It is never reused, so a handler
// goroutine that outlives its request cannot write into another one.
type reqState struct {
	parent context.Context // the request's context before the middleware's
	w      http.ResponseWriter
	req    *http.Request // the request the middleware was handed
	route  string
	muxReq *http.Request // the request a ServeMux gave the pattern, if it did
	mu     sync.Mutex
	// written counts the body bytes written.
	written int64
	status  int32
	// SetRoute may be called from another goroutine than the one that
	// records: under http.TimeoutHandler it runs on the handler's, maybe
	// after the middleware gave up waiting. A setter sets routeTouched
	// and the middleware routeRecorded in the one word, each learning
	// whether the other came first, so when nothing set a route the
	// middleware need not take the lock.
	flags atomic.Uint32
	sets  atomic.Int32 // routes set so far (none: route is empty); written under mu
	// wroteHeader: the status is final. flushed: it reached the
	// connection's buffer, so the client gets it even if the handler
	// aborts.
	wroteHeader, flushed bool
	pattern              bool // route is a ServeMux pattern, from RoutePattern
}

// The bits of reqState.flags.
const (
	routeTouched  = 1 << iota // a setter came
	routeRecorded             // the request was recorded: a route set now is too late
)

// netHTTPBuffer is how much body net/http's HTTP/1 server buffers before
// the status line goes to the connection (bufferBeforeChunkingSize).
const netHTTPBuffer = 2048

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.inst.excluded != nil && m.inst.excluded.MatchString(r.URL.Path) {
		m.next.ServeHTTP(w, r)
		return
	}
	var active *inFlightCount
	if m.inst.active != nil {
		active = m.inst.active.start(r)
	}
	start := time.Since(epoch)
	s := &reqState{w: w, req: r, status: http.StatusOK}
	s.parent = r.Context()
	if c, ok := s.parent.(stateCtx); ok && c.s.done() {
		// The caller serves the same request again (a test, a retry):
		// the context it holds is the one a finished pass installed.
		s.parent = c.s.parent
	}
	// The state goes into the context of the request itself, not of a
	// copy: a copy escapes to the heap (its 250 bytes were most of what
	// the middleware allocated), and the routers below, nested ones under
	// a ServeMux included, and whatever copies the request on the way all
	// see this request's context. WithContext's own copy is inlined and
	// stays on the stack. The context is set once, before next runs and
	// never again, so goroutines next starts read it without a race; the
	// caller sees a context that answers as its own did.
	*r = *r.WithContext(stateCtx{s})
	defer func() {
		status := int(s.status)
		p := recover()
		if active != nil {
			// First, whatever follows: a panic, an abort or a hijacked
			// connection ends the request as far as the count goes.
			active.n.Add(-1)
		}
		// http.ErrAbortHandler after the status went out is how a proxy
		// ends a stream the client or upstream broke: the client saw the
		// status already written, so that is what is counted.
		if p != nil && (p != http.ErrAbortHandler || !s.sent()) {
			status = http.StatusInternalServerError
		}
		var route string
		var routed, pattern bool
		var muxReq *http.Request
		if s.flags.Or(routeRecorded)&routeTouched != 0 {
			s.mu.Lock()
			route, routed, pattern, muxReq = s.route, s.sets.Load() != 0, s.pattern, s.muxReq
			s.mu.Unlock()
		}
		if muxReq != nil && redirectStatus(status) && muxRedirect(muxReq, route) {
			route = ""
		}
		if !routed {
			route, pattern = r.Pattern, true
			if route != "" && redirectStatus(status) && muxRedirect(r, route) {
				route = ""
			}
		}
		m.inst.record(s.parent, r, status, route, pattern, time.Since(epoch)-start)
		if p != nil {
			panic(p) // recorded; net/http (or an outer recoverer) handles it as before
		}
	}()
	m.next.ServeHTTP(m.wrapper(w)(s), r)
}

// epoch is what the middleware reads the monotonic clock against:
// time.Since reads only that clock, time.Now the wall clock as well, which
// a request's duration does not need.
var epoch = time.Now()

// done reports whether the request was recorded.
func (s *reqState) done() bool { return s.flags.Load()&routeRecorded != 0 }

// sent reports whether the status can have reached the client.
func (s *reqState) sent() bool {
	return s.wroteHeader && (s.flushed || s.written > netHTTPBuffer)
}

// setRoute is SetRoute's part; false once the request was recorded.
func (s *reqState) setRoute(route string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flags.Or(routeTouched)&routeRecorded != 0 {
		return false
	}
	s.route, s.pattern, s.muxReq = route, false, nil
	s.sets.Add(1)
	return true
}

// setPattern is RoutePattern's: the ServeMux pattern, unless a router
// nested below set a route since sets were counted (the innermost
// template is the more precise) or the request was recorded.
func (s *reqState) setPattern(pattern string, muxReq *http.Request, sets int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flags.Or(routeTouched)&routeRecorded != 0 || s.sets.Load() != sets {
		return
	}
	s.route, s.pattern, s.muxReq = pattern, true, muxReq
	s.sets.Add(1)
}

// wrap returns the writer for s with the optional interfaces of w.
func wrap(s *reqState, w http.ResponseWriter) http.ResponseWriter {
	return wrappers[writerMask(w)](s)
}

// writerMask is the mask of w's optional interfaces.
func writerMask(w http.ResponseWriter) int {
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
	if _, ok := w.(flushErrorer); ok {
		mask |= hasFlushErrorer
	}
	return mask
}

// record measures one request; route is a ServeMux pattern when pattern
// is true.
func (in *instruments) record(ctx context.Context, r *http.Request, status int, route string, pattern bool, d time.Duration) {
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
	in.duration.Record(ctx, d.Seconds(), s.rec...)
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

// redirectStatus is true of the codes a ServeMux redirects with: 307 since
// Go 1.22's patterns, 301 before.
func redirectStatus(code int) bool {
	return code == http.StatusTemporaryRedirect || code == http.StatusMovedPermanently
}

// rw is the writer's common part; writer_gen.go adds the optional
// interfaces in every combination. A struct of one pointer is stored in
// an interface without allocating.
type rw struct{ s *reqState }

func (w rw) Header() http.Header { return w.s.w.Header() }

func (w rw) WriteHeader(code int) {
	// 1xx other than 101 are interim responses; the final code comes later.
	if !w.s.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.s.status, w.s.wroteHeader = int32(code), true
	}
	w.s.w.WriteHeader(code)
}

func (w rw) Write(b []byte) (int, error) {
	w.s.wroteHeader = true
	n, err := w.s.w.Write(b)
	w.s.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w rw) Unwrap() http.ResponseWriter { return w.s.w }

func (s *reqState) flush() {
	s.wroteHeader, s.flushed = true, true
	s.w.(http.Flusher).Flush()
}

// flushErrorer is the method http.ResponseController prefers to Flush:
// unlike Flush it reports a broken connection. net/http's writer has it.
type flushErrorer interface{ FlushError() error }

func (s *reqState) flushError() error {
	s.wroteHeader, s.flushed = true, true
	return s.w.(flushErrorer).FlushError()
}

// hijack hands the connection over. A handler that takes it without
// writing a status is recorded as 101 (a WebSocket upgrade), or as 200
// for CONNECT, whose tunnel opens with "200 Connection established"
// written on the raw connection.
func (s *reqState) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := s.w.(http.Hijacker).Hijack()
	if err == nil && !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusSwitchingProtocols, true
		if s.req.Method == http.MethodConnect {
			s.status = http.StatusOK
		}
	}
	if err == nil {
		s.flushed = true // the handler owns the connection: whatever it wrote is out
	}
	return c, brw, err
}

func (s *reqState) readFrom(src io.Reader) (int64, error) {
	s.wroteHeader = true
	n, err := s.w.(io.ReaderFrom).ReadFrom(src)
	s.written += n
	return n, err
}

func (s *reqState) writeString(str string) (int, error) {
	s.wroteHeader = true
	n, err := s.w.(io.StringWriter).WriteString(str)
	s.written += int64(n)
	return n, err
}

func (s *reqState) push(target string, opts *http.PushOptions) error {
	return s.w.(http.Pusher).Push(target, opts)
}

func (s *reqState) closeNotify() <-chan bool {
	return s.w.(http.CloseNotifier).CloseNotify() //nolint:staticcheck // see wrap
}
