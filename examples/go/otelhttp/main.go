// Command otelhttp measures a net/http ServeMux instrumented with
// OpenTelemetry's otelhttp alone, with no middleware of metricsbridge's:
// given the bridge's MeterProvider, otelhttp's http.server.request.duration
// (with the mux's pattern as http.route) becomes http_requests_total and
// http_request_duration_seconds on the bridge's scrape endpoint, the same
// series the bridge's own middleware gives.
//
//	export JWT_SECRET_KEY=$(openssl rand -hex 32)
//	go run ./examples/go/otelhttp &
//	curl 127.0.0.1:4444/users/1
//	TOKEN=$(go run ./cmd/metricsbridge token create --username prometheus@monitoring)
//	curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:4444/metrics/prometheus
//
// Every METRICS_*, HOST, PORT and JWT_* variable of the metricsbridge
// binary applies; ENABLE_METRICS defaults to true here.
package main

import (
	"encoding/json"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// newMux routes the program's requests; metrics is the scrape endpoint.
func newMux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { getUser(w, r.PathValue("id")) })
	mux.HandleFunc("POST /users", createUser)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	})
	mux.Handle("GET /metrics/prometheus", metrics)
	return mux
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
	serve("otelhttp example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		// No middleware of the bridge's: otelhttp records every request
		// into the bridge's MeterProvider, and the scrape endpoint derives
		// the same series from it. RoutePattern hands the mux's pattern to
		// otelhttp's labeler, so middleware added between the two that
		// copies the request keeps the handler label.
		return otelhttp.NewHandler(otelmetrics.RoutePattern(newMux(metrics)), "users",
			otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter()))
	})
}
