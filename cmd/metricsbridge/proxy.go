package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
)

// StatusClientClosedRequest is what a request the client abandoned before
// the upstream answered is counted as. The client never sees it; 502 would
// blame the upstream and page someone for a closed browser tab. The code
// is the one nginx uses, so dashboards already know it.
const StatusClientClosedRequest = 499

// proxy forwards every request it gets to the upstream and sets
// Request.Pattern to the route template matched, for the middleware around
// it to read.
type proxy struct {
	routes *routes.Table // the --routes templates; nil without any
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
		t, err := routes.New(s.routes)
		if err != nil {
			return nil, err
		}
		p.routes = t
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
// --routes template first, then the OpenAPI document's.
func (p *proxy) match(r *http.Request) string {
	if t := p.routes.Match(r); t != "" {
		return t
	}
	if o := p.openapi.Load(); o != nil {
		return o.table.Match(r)
	}
	return ""
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
