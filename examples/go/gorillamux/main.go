// Command gorillamux measures a gorilla/mux router with metricsbridge: the
// handler label is the template of the route mux matched ("/users/{id}"),
// never the path.
//
//	go run ./gorillamux   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/gorilla/mux"

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

// route hands the matched route's template to the bridge. mux runs its
// middleware only for requests that matched a route, so its own 404 and
// 405 stay handler="none".
func route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tmpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
			otelmetrics.SetRoute(r.Context(), tmpl)
		}
		next.ServeHTTP(w, r)
	})
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	r := mux.NewRouter()
	r.Use(route)
	users := r.PathPrefix("/users").Subrouter()
	users.HandleFunc("/{id}", getUser).Methods(http.MethodGet)
	r.HandleFunc("/users", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }).Methods(http.MethodPost)
	r.Handle("/metrics/prometheus", metrics).Methods(http.MethodGet)
	return r
}

func getUser(w http.ResponseWriter, r *http.Request) {
	if mux.Vars(r)["id"] != "1" {
		// The route matched: handler="/users/{id}", status="404".
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, "user 1")
}
