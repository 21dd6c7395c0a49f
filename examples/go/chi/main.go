// Command chi measures a go-chi/chi router with metricsbridge. The handler
// label is chi's own route template ("/users/{id}"), handed to the bridge
// by a one-line hook, so it survives chi's RequestID middleware and any
// other that copies the request.
//
//	cd examples/go/chi
//	export JWT_SECRET_KEY=$(openssl rand -hex 32)
//	go run . &
//	curl 127.0.0.1:4444/users/1
//	TOKEN=$(go run ../../../cmd/metricsbridge token create --username prometheus@monitoring)
//	curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:4444/metrics/prometheus
//
// Every METRICS_*, HOST, PORT and JWT_* variable of the metricsbridge
// binary applies; ENABLE_METRICS defaults to true here.
package main

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// route hands chi's template to the bridge. It reads it after next has
// run, because only then do sub-routers' patterns make up the whole of it.
func route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rctx := chi.RouteContext(r.Context())
			pattern := rctx.RoutePattern()
			// A sub-router that found nothing (404 or 405) leaves its
			// mount's "/users/*"; only a wildcard route can tell it apart,
			// by matching. The request then stays handler="none".
			if pattern == "" || strings.HasSuffix(pattern, "*") && !rctx.Routes.Match(chi.NewRouteContext(), r.Method, r.URL.Path) {
				return
			}
			otelmetrics.SetRoute(r.Context(), pattern)
		}()
		next.ServeHTTP(w, r)
	})
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(route, middleware.RequestID)
	r.Route("/users", func(r chi.Router) {
		r.Post("/", createUser)
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) { getUser(w, chi.URLParam(r, "id")) })
	})
	r.Get("/files/*", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"file": chi.URLParam(r, "*")})
	})
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	})
	r.Method(http.MethodGet, "/metrics/prometheus", metrics)
	return r
}

var users = map[string]string{"1": "ada", "2": "grace"}

func getUser(w http.ResponseWriter, id string) {
	name, ok := users[id]
	if !ok {
		// The route matched; the user does not exist. The handler label
		// stays "/users/{id}", status "404".
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such user"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "name": name})
}

func createUser(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]string{"id": "3"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	serve("chi example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		return p.Middleware(newRouter(metrics))
	})
}
