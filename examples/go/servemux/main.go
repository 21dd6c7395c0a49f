// Command servemux measures a net/http ServeMux, reads every METRICS_*, HOST,
// PORT and JWT_* variable of the metricsbridge binary, serves the scrape
// endpoint behind a bearer token and drains requests on SIGINT or SIGTERM.
// The other programs here leave all that out to show only their router.
//
//	JWT_SECRET_KEY=$(openssl rand -hex 32) go run ./servemux   # in examples/go
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	cfg, cfgErr := otelmetrics.ConfigFromEnv(os.LookupEnv)
	authCfg, authErr := auth.ConfigFromEnv(os.LookupEnv)
	if err := errors.Join(cfgErr, authErr); err != nil {
		log.Fatal(err) // every bad variable at once
	}
	cfg.Enabled = true // ConfigFromEnv keeps the binary's default, off
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := auth.NewVerifier(authCfg, auth.WithMeterProvider(p.MeterProvider()))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: cfg.Addr(), ReadHeaderTimeout: 10 * time.Second,
		Handler: p.Middleware(newRouter(verifier.Middleware(p.MetricsHandler())))}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	stop()
	// Requests drain first, so that the last flush includes them.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(srv.Shutdown(ctx), p.Shutdown(ctx)); err != nil {
		log.Fatal(err)
	}
}

// newRouter's RoutePattern hands the bridge the pattern the mux matched.
func newRouter(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello, %s\n", r.PathValue("name")) })
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code")) // a status on demand, to try the alerts
		w.WriteHeader(min(max(code, 200), 599))
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /metrics/prometheus", metrics)
	return otelmetrics.RoutePattern(mux)
}
