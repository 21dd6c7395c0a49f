package otelmetrics

import (
	"context"
	"net/http"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// stateKey finds the request's state in its context.
type stateKey struct{}

// stateCtx is the context the middleware hands down: the request's own,
// which also carries the state. It is a struct of one pointer, so storing
// it in the request costs no allocation beyond the state's, and it
// delegates Done to the parent, so the context package still links child
// contexts to the parent's cancellation directly.
type stateCtx struct{ s *reqState }

func (c stateCtx) Deadline() (time.Time, bool) { return c.s.parent.Deadline() }
func (c stateCtx) Done() <-chan struct{}       { return c.s.parent.Done() }
func (c stateCtx) Err() error                  { return c.s.parent.Err() }

func (c stateCtx) Value(key any) any {
	if key == (stateKey{}) {
		return c.s
	}
	return c.s.parent.Value(key)
}

// SetRoute records the route template of the request whose context (or a
// copy's) is ctx: "/users/{id}" or "/users/:id", as the router writes it.
// Router hooks call it; see the examples for chi, gorilla/mux, echo and
// gin. It reaches the bridge's middleware or, when the request passed
// through otelhttp instead, otelhttp's labeler, so either way in gets the
// route. It reports whether either was found.
//
// It may be called from any goroutine. Under http.TimeoutHandler a route
// set after the timeout answered is too late: the request was recorded
// already (with the route set before, if any), and SetRoute reports
// false.
func SetRoute(ctx context.Context, route string) bool {
	if s, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return s.setRoute(route)
	}
	// Only without the bridge's middleware: LabelerFromContext allocates
	// a labeler when there is none.
	if l, ok := otelhttp.LabelerFromContext(ctx); ok {
		l.Add(mbsemconv.KeyHTTPRoute.String(route))
		return true
	}
	return false
}

// RoutePattern wraps an *http.ServeMux (or any handler that sets
// Request.Pattern) so the pattern it matched reaches the middleware even
// when handlers between the two copy the request:
//
//	p.Middleware(requestID(otelmetrics.RoutePattern(mux)))
//
// The pattern is known once the handler returns, and a router nested
// below (reporting through SetRoute meanwhile) wins over it: the innermost
// template is the more precise. When the request's context has a deadline,
// something above (http.TimeoutHandler) may answer before the handler
// returns, so an *http.ServeMux's pattern is looked up first as well, at
// the cost of a second match, and the early answer carries it.
func RoutePattern(next http.Handler) http.Handler {
	mux, _ := next.(*http.ServeMux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := r.Context().Value(stateKey{}).(*reqState)
		if mux != nil && s != nil && s.req == r && s.sets.Load() == 0 {
			// Nothing copied the request on the way: the handler sets its
			// Pattern where the middleware reads it, after any route a
			// router nested below reports, so there is nothing to hand
			// over.
			next.ServeHTTP(w, r)
			return
		}
		if mux != nil {
			if _, ok := r.Context().Deadline(); ok {
				if _, pattern := mux.Handler(r); pattern != "" && !muxRedirect(r, pattern) {
					SetRoute(r.Context(), mbsemconv.Route(pattern))
				}
			}
		}
		var sets int32
		if s != nil {
			sets = s.sets.Load()
		}
		defer func() {
			if r.Pattern == "" {
				return
			}
			if s != nil {
				// The pattern as it is, its series turns it into the
				// template once; whether the mux answered with a redirect
				// of its own is checked by the middleware, which knows the
				// status, only when it is a redirect.
				var muxReq *http.Request
				if mux != nil {
					muxReq = r
				}
				s.setPattern(r.Pattern, muxReq, sets)
				return
			}
			// The handler's goroutine may not be the middleware's (under
			// http.TimeoutHandler), so the status is not known here; for a
			// ServeMux the request's path alone tells its redirects apart.
			if mux == nil || !muxRedirect(r, r.Pattern) {
				SetRoute(r.Context(), mbsemconv.Route(r.Pattern))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// RouteMatcher gives the route template of a request, "" when it has none;
// a *routes.Table is one.
type RouteMatcher interface {
	Match(r *http.Request) string
}

// MatchRoutes labels the requests of a handler that routes nothing itself,
// such as a reverse proxy, by the templates of m:
//
//	table, err := routes.FromOpenAPI(ctx, openapiJSON)
//	h := p.Middleware(otelmetrics.MatchRoutes(table, proxy))
//
// The template is set before next runs, so next may still set another
// with SetRoute. A request m matches nothing keeps whatever next gives
// it, handler="none" by default. A nil m labels nothing.
func MatchRoutes(m RouteMatcher, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := m.Match(r); t != "" {
			SetRoute(r.Context(), t)
		}
		next.ServeHTTP(w, r)
	})
}

// muxRedirect reports whether a ServeMux that gave r the pattern answered
// with a redirect of its own instead of running the pattern's handler:
// to the clean path (it redirects every unclean path but CONNECT's, and
// gives the pattern the clean path matches), or from /tree to /tree/
// (the pattern matches the path with a slash added, which its handler
// would only see with more segments). Such a request is handler="none",
// like the 404 other routers answer it with.
func muxRedirect(r *http.Request, pattern string) bool {
	p := r.URL.EscapedPath()
	if r.Method != http.MethodConnect && !isClean(p) {
		return true
	}
	route := mbsemconv.Route(pattern)
	if strings.HasSuffix(p, "/") ||
		!(strings.HasSuffix(route, "/") || strings.HasSuffix(route, "{$}") || strings.HasSuffix(route, "...}")) {
		return false
	}
	return strings.Count(p, "/")+1 == strings.Count(route, "/")
}

// isClean reports whether cleanPath leaves p as it is, without building
// the clean path for the common path that has no empty or dot segment.
func isClean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if (p[i] == '/' && p[i-1] == '/') || (p[i] == '.' && p[i-1] == '/') {
			return cleanPath(p) == p
		}
	}
	return true
}

// cleanPath is net/http's: path.Clean keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			return p
		}
		return np + "/"
	}
	return np
}
