// Command otlppush measures a net/http ServeMux with metricsbridge and pushes
// the measurements over OTLP to an OpenTelemetry Collector or a vendor, with
// no scrape endpoint: every OTEL_EXPORTER_OTLP_* variable and vendor preset
// (METRICS_OTLP_VENDOR) of the metricsbridge binary applies.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./otlppush   # in examples/go
//	METRICS_OTLP_VENDOR=newrelic NEW_RELIC_LICENSE_KEY=... go run ./otlppush
//
// Stopping a pusher with p.Shutdown pushes what the last interval has not
// sent yet; servemux shows that shutdown, and settings and authentication.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	p, err := newProvider(context.Background(), os.LookupEnv)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(otelmetrics.DefaultConfig().Addr(), newHandler(p)))
}

// newProvider builds a provider whose only output is the OTLP push that
// lookup's variables configure.
func newProvider(ctx context.Context, lookup func(string) (string, bool)) (*otelmetrics.Provider, error) {
	pushCfg, err := collector.ConfigFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = false // no Prometheus reader: the push is the only output
	pusher, err := collector.New(ctx, pushCfg, collector.WithCardinalityLimit(cfg.CardinalityLimit))
	if err != nil {
		return nil, err
	}
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithReader(pusher.Reader()))
	if err != nil {
		return nil, err
	}
	// The pusher counts its own exports and failures into the same push.
	return p, pusher.RegisterMetrics(p.MeterProvider())
}

func newHandler(p *otelmetrics.Provider) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "order %s\n", r.PathValue("id")) })
	return p.Middleware(otelmetrics.RoutePattern(mux))
}
