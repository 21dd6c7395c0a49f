// Command chi measures a go-chi/chi router with metricsbridge: the handler
// label is chi's route template ("/users/{id}"), never the path.
//
//	go run ./chi   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	cfg := otelmetrics.DefaultConfig()
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(cfg.Addr(), p.Middleware(newRouter(p.MetricsHandler()))))
}

// route hands chi's template to the bridge. It reads it after next has run,
// when the sub-routers have made it whole; a sub-router that found nothing
// leaves its mount's "/users/*", which only matching tells from a wildcard
// route, and the request stays handler="none".
func route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rctx := chi.RouteContext(r.Context())
			pattern := rctx.RoutePattern()
			if pattern != "" && (!strings.HasSuffix(pattern, "*") || rctx.Routes.Match(chi.NewRouteContext(), r.Method, r.URL.Path)) {
				otelmetrics.SetRoute(r.Context(), pattern)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(route, middleware.RequestID)
	r.Route("/users", func(r chi.Router) {
		r.Post("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) { getUser(w, chi.URLParam(r, "id")) })
	})
	r.Get("/files/*", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, chi.URLParam(r, "*")) })
	r.Method(http.MethodGet, "/metrics/prometheus", metrics)
	return r
}

func getUser(w http.ResponseWriter, id string) {
	if id != "1" {
		// The route matched: handler="/users/{id}", status="404".
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, "user 1")
}
