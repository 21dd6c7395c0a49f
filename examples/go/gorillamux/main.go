// Command gorillamux measures a gorilla/mux router with metricsbridge. The
// handler label is the template of the route mux matched ("/users/{id}"),
// handed to the bridge by a mux middleware, so it survives middleware that
// copies the request.
//
//	cd examples/go/gorillamux
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

	"github.com/gorilla/mux"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// route hands the matched route's template to the bridge. mux runs its
// middleware only for requests that matched a route, so a 404 or 405 of
// mux's own stays handler="none".
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
	users.HandleFunc("/{id}", func(w http.ResponseWriter, r *http.Request) { getUser(w, mux.Vars(r)["id"]) }).Methods(http.MethodGet)
	r.HandleFunc("/users", createUser).Methods(http.MethodPost)
	r.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	}).Methods(http.MethodGet)
	r.Handle("/metrics/prometheus", metrics).Methods(http.MethodGet)
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
	serve("gorilla/mux example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		return p.Middleware(newRouter(metrics))
	})
}
