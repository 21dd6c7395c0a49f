// Command servemux is the smallest complete program that measures a plain
// net/http ServeMux with metricsbridge and serves the scrape endpoint behind
// a bearer token.
//
//	export JWT_SECRET_KEY=$(openssl rand -hex 32)
//	go run ./examples/go/servemux &
//	curl 127.0.0.1:4444/hello/gopher
//	curl 127.0.0.1:4444/status/503
//	TOKEN=$(go run ./cmd/metricsbridge token create --username prometheus@monitoring)
//	curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:4444/metrics/prometheus
//
// The handler label is the pattern the mux matched ("/hello/{name}"), so
// any number of names still makes one series. Every METRICS_*, HOST, PORT
// and JWT_* variable of the metricsbridge binary applies; ENABLE_METRICS
// defaults to true here because serving metrics is the program's point.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	serve("servemux", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		// The middleware wraps the mux, not the other way round: the
		// pattern is known once the mux has routed the request.
		// RoutePattern hands it to the middleware through the request's
		// context, so middleware added in between that copies the request
		// (request IDs, auth, http.TimeoutHandler) keeps the handler label.
		return p.Middleware(otelmetrics.RoutePattern(newMux(metrics)))
	})
}

// newMux routes the program's requests; metrics is the scrape endpoint.
func newMux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", hello)
	mux.HandleFunc("GET /status/{code}", status)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	})
	mux.Handle("GET /metrics/prometheus", metrics)
	return mux
}

func hello(w http.ResponseWriter, r *http.Request) {
	// Explicit, so a name that looks like HTML is never sniffed as HTML.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello, %s\n", r.PathValue("name"))
}

// status answers with the status code it is asked for, so the dashboard's
// error panels and the 5xx alert can be tried out by hand.
func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a status code from 200 to 599"})
		return
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code) // these may not carry a body
		return
	}
	writeJSON(w, code, map[string]int{"status": code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
