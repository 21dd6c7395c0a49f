package otelmetrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/metricsbridge/metricsbridge/promexport"
)

// HandlerNone is the handler label of a request that matched no route.
const HandlerNone = promexport.HandlerNone

// Middleware wraps next so every finished request is recorded once in
// http.server.request.duration, from which the scrape endpoint derives
// http_requests_total and http_request_duration_seconds.
//
// next is normally an *http.ServeMux: the handler label is the pattern the
// mux matched, read from Request.Pattern after next returns, with any method
// and host removed. Wrap the mux itself (not a handler that copies the
// request, such as http.StripPrefix) so the matched pattern is visible here.
func (p *Provider) Middleware(next http.Handler) http.Handler {
	return &middleware{next: next, inst: p.inst}
}

type middleware struct {
	next http.Handler
	inst *instruments
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.inst.excluded != nil && m.inst.excluded.MatchString(r.URL.Path) {
		m.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rw := writerPool.Get().(*responseWriter)
	rw.ResponseWriter, rw.status, rw.wroteHeader = w, http.StatusOK, false
	defer func() {
		status := rw.status
		p := recover()
		// http.ErrAbortHandler after the header went out is how a proxy
		// ends a stream the client or upstream broke: the client saw the
		// status already written, so that is what is counted.
		if p != nil && (p != http.ErrAbortHandler || !rw.wroteHeader) {
			status = http.StatusInternalServerError
		}
		m.record(r, status, time.Since(start))
		rw.ResponseWriter = nil
		writerPool.Put(rw)
		if p != nil {
			panic(p) // recorded; net/http (or an outer recoverer) handles it as before
		}
	}()
	m.next.ServeHTTP(rw, r)
}

func (m *middleware) record(r *http.Request, status int, d time.Duration) {
	s := m.inst.cache.get(seriesKey{
		method: methodIndex(r.Method),
		status: uint16(status),
		https:  r.TLS != nil,
		route:  routeTemplate(r.Pattern),
	})
	if s.excluded {
		return
	}
	m.inst.duration.Record(r.Context(), d.Seconds(), s.rec...)
}

// routeTemplate turns a ServeMux pattern "[METHOD ][HOST]/path" into its
// path, the value of http.route.
func routeTemplate(pattern string) string {
	if pattern == "" {
		return ""
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

// responseWriter remembers the status code. It keeps http.Flusher,
// http.Hijacker and io.ReaderFrom visible to type assertions and unwraps
// for http.ResponseController, so SSE, WebSocket upgrades and sendfile work
// through the middleware.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx other than 101 are interim responses; the final code comes later.
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush looks for first.
func (w *responseWriter) FlushError() error {
	w.wroteHeader = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over; a handler that takes the connection
// without writing a status (a WebSocket upgrade) is recorded as 101.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wroteHeader = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
