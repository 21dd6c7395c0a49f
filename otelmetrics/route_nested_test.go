package otelmetrics

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A router mounted under a ServeMux reports the innermost template,
// whether the middleware wraps the outer mux directly or through a
// handler: the holder for the route is in the request's context either
// way, so the nested router's SetRoute finds it.
func TestRouterUnderServeMux(t *testing.T) {
	api := http.NewServeMux()
	api.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
	var found []bool
	var mu sync.Mutex
	hook := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// A chi or gin router's hook below the outer mux.
		ok := SetRoute(r.Context(), "/v2/items/:id")
		mu.Lock()
		found = append(found, ok)
		mu.Unlock()
	})
	outer := http.NewServeMux()
	outer.Handle("/api/", http.StripPrefix("/api", RoutePattern(api)))
	outer.Handle("/v2/", hook)
	outer.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name string
		h    func(*Provider) http.Handler
	}{
		{"the mux directly", func(p *Provider) http.Handler { return p.Middleware(outer) }},
		{"the mux behind a HandlerFunc", func(p *Provider) http.Handler { return p.Middleware(http.HandlerFunc(outer.ServeHTTP)) }},
		{"RoutePattern(mux), nothing between", func(p *Provider) http.Handler { return p.Middleware(RoutePattern(outer)) }},
		// The outer RoutePattern learns its pattern after the inner
		// routers reported theirs, and must not replace them.
		{"RoutePattern(mux) behind a request copy", func(p *Provider) http.Handler { return p.Middleware(requestID(RoutePattern(outer))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found = nil
			p := newTestProvider(t, nil)
			h := tc.h(p)
			do(h, "GET", "/api/users/7")
			do(h, "GET", "/v2/items/3")
			do(h, "GET", "/health")
			got := seriesOf(t, scrape(t, p))
			for _, want := range []string{
				`http_requests_total{handler="/users/{id}",method="GET",status="200"} 1`,
				`http_requests_total{handler="/v2/items/:id",method="GET",status="200"} 1`,
				`http_requests_total{handler="/health",method="GET",status="200"} 1`,
			} {
				if !slices.Contains(got, want) {
					t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
				}
			}
			if !slices.Equal(found, []bool{true}) {
				t.Errorf("SetRoute from the hook reported %v, want [true]", found)
			}
		})
	}
}

// http.TimeoutHandler runs the handler on a goroutine of its own and
// answers 503 when it is late; the route setters below it then run while,
// or after, the middleware records. Run with -race: there must be no race,
// a route known before the 503 was written is on the 503, and a route that
// comes after the request was recorded is refused (SetRoute reports false)
// rather than written into a finished request.
func TestTimeoutHandlerKeepsTheRoute(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // the timeout fired
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write([]byte("late"))
	}
	for _, tc := range []struct {
		name string
		// inner builds what TimeoutHandler wraps; it closes done when the
		// last route setter has run.
		inner     func(done chan<- struct{}, late *bool) http.Handler
		want      string
		unrouted  string
		lateFound bool
	}{
		{"RoutePattern(mux)", func(done chan<- struct{}, late *bool) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /slow/{id}", slow)
			return signalAfter(done, RoutePattern(mux))
		}, `{handler="/slow/{id}",method="GET",status="503"} 1`, "0", false},
		{"hook before the handler (gin, gorilla/mux, echo)", func(done chan<- struct{}, late *bool) http.Handler {
			return signalAfter(done, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				SetRoute(r.Context(), "/slow/:id")
				slow(w, r)
			}))
		}, `{handler="/slow/:id",method="GET",status="503"} 1`, "0", false},
		{"hook after the handler (chi)", func(done chan<- struct{}, late *bool) http.Handler {
			return signalAfter(done, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { *late = SetRoute(r.Context(), "/slow/:id") }()
				slow(w, r)
			}))
		}, `{handler="none",method="GET",status="503"} 1`, "1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, nil)
			done := make(chan struct{})
			late := true
			// Long enough for the handler's goroutine to start on a loaded
			// machine: the handler waits for the timeout either way.
			h := p.Middleware(http.TimeoutHandler(tc.inner(done, &late), 250*time.Millisecond, ""))
			if code := do(h, "GET", "/slow/7"); code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", code)
			}
			<-done
			got := seriesOf(t, scrape(t, p))
			for _, want := range []string{
				"http_requests_total" + tc.want,
				"metricsbridge_unrouted_requests_total " + tc.unrouted,
			} {
				if !slices.Contains(got, want) {
					t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
				}
			}
			if strings.Contains(tc.name, "after") && late != tc.lateFound {
				t.Errorf("SetRoute after the request was recorded reported %t", late)
			}
		})
	}
}

// signalAfter closes done once next has returned.
func signalAfter(done chan<- struct{}, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		next.ServeHTTP(w, r)
	})
}
