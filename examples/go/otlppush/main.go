// Command otlppush measures a ServeMux with metricsbridge and pushes the
// metrics over OTLP, with no scrape endpoint at all: the shape for a
// service whose metrics go to an OpenTelemetry Collector or a vendor.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/go/otlppush
//	METRICS_OTLP_VENDOR=newrelic NEW_RELIC_LICENSE_KEY=... go run ./examples/go/otlppush
//
// Every OTEL_* variable and vendor preset of the metricsbridge binary
// applies. SIGINT or SIGTERM stops the server and pushes what the last
// interval had not yet sent.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger); err != nil {
		logger.Error("otlppush stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger) error {
	cfg, err := otelmetrics.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	// No Prometheus reader: the push is the only output.
	cfg.Enabled = false
	pushCfg, err := collector.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	res, err := collector.Resource(os.LookupEnv, "example")
	if err != nil {
		return err
	}
	pusher, err := collector.New(ctx, pushCfg, collector.WithLogger(logger))
	if err != nil {
		return err
	}
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithReader(pusher.Reader()),
		otelmetrics.WithResource(res), otelmetrics.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := pusher.RegisterMetrics(p.MeterProvider()); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "order %s\n", r.PathValue("id"))
	})
	srv := &http.Server{Addr: cfg.Addr(), Handler: p.Middleware(mux), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("otlppush serving", "addr", cfg.Addr(), "otlp", pushCfg.URL, "temporality", pushCfg.Temporality)

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return errors.Join(err, p.Shutdown(context.Background()))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown drains requests first so the final push includes them.
	return errors.Join(srv.Shutdown(sctx), p.Shutdown(sctx))
}
