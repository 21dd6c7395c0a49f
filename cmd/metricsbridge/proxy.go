package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// StatusClientClosedRequest is what a request the client abandoned before
// the upstream answered is counted as. The client never sees it; 502 would
// blame the upstream and page someone for a closed browser tab. The code
// is the one nginx uses, so dashboards already know it.
const StatusClientClosedRequest = 499

// route marks a template in the matcher mux; its string is the pattern the
// middleware turns into the handler label.
type route string

func (route) ServeHTTP(http.ResponseWriter, *http.Request) {}

// compileRoutes builds a ServeMux used only to match templates, so the
// handler label follows exactly the pattern rules operators know from
// net/http, conflicts included.
func compileRoutes(templates []string) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, t := range templates {
		if err := addRoute(mux, t); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

var registeredAt = regexp.MustCompile(` \(registered at [^)]*\)`)

// addRoute turns ServeMux's panic on a bad or conflicting pattern into an
// error for the start-up message.
func addRoute(mux *http.ServeMux, t string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// ServeMux explains a conflict over several lines and names
			// the source lines that registered each pattern; a start-up
			// error is one line about the operator's routes.
			msg := registeredAt.ReplaceAllString(fmt.Sprint(p), "")
			err = fmt.Errorf("route %q: %s", t, strings.Join(strings.Fields(msg), " "))
		}
	}()
	if strings.ContainsAny(t, "\r\n\t") {
		return fmt.Errorf("route %q: control characters", t)
	}
	mux.Handle(t, route(t))
	return nil
}

// fallback is registered under "/" beside the --routes templates, so a
// request none of them matches ends at once on the least specific pattern
// instead of ServeMux working out a redirect or the allowed methods of a
// 405, which costs several allocations. It is no route, so the label is
// "none" either way.
type fallback struct{}

func (fallback) ServeHTTP(http.ResponseWriter, *http.Request) {}

// addFallback registers fallback unless the templates already cover "/"
// (a "/" or "/{path...}" of the operator's own).
func addFallback(mux *http.ServeMux) {
	defer func() { _ = recover() }()
	mux.Handle("/", fallback{})
}

// proxy forwards every request it gets to the upstream and sets
// Request.Pattern to the route template matched, for the middleware around
// it to read.
type proxy struct {
	routes *http.ServeMux // the --routes templates; nil without any
	// firsts, when not nil, holds the first path segment of every --routes
	// template: a request whose path starts otherwise matches none of
	// them, and skips the ServeMux lookup.
	firsts map[string]bool
	// openapi holds the templates of --openapi; a reload swaps it.
	openapi atomic.Pointer[openAPIRoutes]
	rp      *httputil.ReverseProxy
	logger  *slog.Logger
	// failures rate-limits upstream failure logs, which arrive once per
	// request while the upstream is down.
	failures logLimiter
	// unrouted warns when the templates match next to nothing.
	unrouted  unroutedHint
	templates string // for that warning: where the templates come from
}

// newProxy returns the instrumenting reverse proxy of s.upstream.
func newProxy(s serverSettings, logger *slog.Logger) (*proxy, error) {
	p := &proxy{logger: logger, templates: s.routeSummary()}
	p.unrouted.on = len(s.routes) > 0 || s.openapi != nil
	if len(s.routes) > 0 {
		routes, err := compileRoutes(s.routes)
		if err != nil {
			return nil, err
		}
		p.routes = routes
		p.firsts = firstSegments(s.routes)
		addFallback(routes)
	}
	if s.openapi != nil {
		p.openapi.Store(s.openapi)
		p.reportOpenAPI(nil, s.openapi, len(s.routes))
	}
	tr := s.transport
	if tr == nil {
		tr = newUpstreamTransport(s)
	}
	upstream := s.upstream
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// Keep the chain of proxies in front of us, as Director-style
			// proxies do, and add the client we saw.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
		},
		Transport:    tr,
		ErrorHandler: p.upstreamError,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Pattern = p.match(r)
	p.unrouted.observe(r.Pattern != "", p.logger, p.templates)
	p.rp.ServeHTTP(&streamWriter{ResponseWriter: w}, r)
}

// match returns the template r matches, or "" for none: an explicit
// --routes template first, then the OpenAPI document's. Only a route
// marker counts: the redirects and 405s ServeMux would answer with are not
// routes, and the proxy forwards those requests unchanged.
func (p *proxy) match(r *http.Request) string {
	if p.routes != nil && (p.firsts == nil || p.firsts[firstSegment(r.URL.Path)]) {
		h, _ := p.routes.Handler(r)
		if t, ok := h.(route); ok {
			return string(t)
		}
	}
	if o := p.openapi.Load(); o != nil {
		return o.table.match(r)
	}
	return ""
}

// firstSegments returns the literal first path segments of the
// templates, or nil when one of them names a host, has an empty first
// segment, starts with a wildcard or has an escaped slash there, where the
// first segment of Request.URL.Path says nothing.
func firstSegments(templates []string) map[string]bool {
	firsts := map[string]bool{}
	for _, t := range templates {
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			t = strings.TrimLeft(t[i:], " \t")
		}
		if !strings.HasPrefix(t, "/") {
			return nil // a host pattern
		}
		seg := firstSegment(t)
		switch {
		case seg == "{$}": // the root alone
			seg = ""
		case seg == "" || strings.ContainsAny(seg, "{}%"):
			// An empty first segment ("/", "//") is a subtree that
			// ServeMux matches under any first segment.
			return nil
		}
		firsts[seg] = true
	}
	return firsts
}

// firstSegment is what lies between the first and the second slash.
func firstSegment(path string) string {
	if path == "" {
		return ""
	}
	seg, _, _ := strings.Cut(path[1:], "/")
	return seg
}

// newUpstreamTransport is the transport of requests to the upstream, the
// OpenAPI document on it included.
func newUpstreamTransport(s serverSettings) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: s.upstreamTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = s.upstreamTimeout
	// The default of 2 idle connections per host makes a busy proxy open
	// and close a connection for most requests.
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 512
	return tr
}

// upstreamError answers for an upstream that could not be reached (502) or
// did not answer in time (504).
func (p *proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadGateway, "upstream unavailable"
	var ne net.Error
	switch {
	case r.Context().Err() != nil:
		status, msg = StatusClientClosedRequest, "client closed the request"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		status, msg = http.StatusGatewayTimeout, "upstream timed out"
	}
	if status != StatusClientClosedRequest {
		p.logFailure(r, status, err)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

// logFailure logs the first failure, then at most one every 10 s with the
// number left out, so a dead upstream under load does not flood the log.
func (p *proxy) logFailure(r *http.Request, status int, err error) {
	if n, ok := p.failures.allow(); ok {
		p.logger.Warn("upstream request failed", "status", status, "method", r.Method, "path", r.URL.Path,
			"err", err, "similar_failures_not_logged", n)
	}
}

// streamWriter lifts the write deadline from streaming responses (SSE, or
// any body of unknown length) when their header goes out, so WRITE_TIMEOUT
// bounds ordinary responses without cutting long streams.
type streamWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *streamWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.wroteHeader = true
		h := w.Header()
		if strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || h.Get("Content-Length") == "" {
			_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Time{})
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *streamWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// FlushError keeps flushing visible to http.ResponseController, which
// ReverseProxy uses for every streamed chunk.
func (w *streamWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
