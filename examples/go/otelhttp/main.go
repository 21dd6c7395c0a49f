// Command otelhttp measures a net/http ServeMux with OpenTelemetry's otelhttp
// and no middleware of metricsbridge's: handed the provider's MeterProvider,
// otelhttp's http.server.request.duration becomes http_requests_total and
// http_request_duration_seconds on the scrape endpoint, the series the
// bridge's own middleware gives.
//
//	go run ./otelhttp   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"fmt"
	"log"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	cfg := otelmetrics.DefaultConfig()
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(cfg.Addr(), newHandler(p)))
}

// newHandler has otelhttp record requests into p's MeterProvider, leaving
// out those the bridge's middleware would (p.Filter). RoutePattern hands the
// mux's pattern to otelhttp's labeler, so middleware in between that copies
// the request keeps the handler label.
func newHandler(p *otelmetrics.Provider) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", getUser)
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
	return otelhttp.NewHandler(otelmetrics.RoutePattern(mux), "users",
		otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter()))
}

func getUser(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != "1" {
		// The route matched: handler="/users/{id}", status="404".
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, "user 1")
}
