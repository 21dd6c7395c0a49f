package main

// This file is the same in every example program under examples/go that
// serves a scrape endpoint (a test keeps the copies identical): the
// settings they all read, the scrape endpoint behind a bearer token, and a
// server that drains its requests before the final flush. It uses only
// public packages, so the folder can be copied into a module of its own.
// main.go keeps what the program is there to show: its router, its route
// hook and how the bridge wraps it.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// handlerFunc builds a program's server handler from the provider and the
// authenticated scrape endpoint it should mount.
type handlerFunc func(p *otelmetrics.Provider, metrics http.Handler) http.Handler

// serve runs the program called name until SIGINT or SIGTERM, and exits 1
// with the reason when it cannot start or stops on an error.
//
// Every METRICS_*, HOST, PORT and JWT_* variable of the metricsbridge
// binary applies; ENABLE_METRICS defaults to true, since serving metrics is
// the programs' point, and a JWT key is required.
func serve(name string, handler handlerFunc) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(name, logger, handler); err != nil {
		logger.Error(name+" stopped", "err", err)
		os.Exit(1)
	}
}

func run(name string, logger *slog.Logger, handler handlerFunc) error {
	cfg, err := otelmetrics.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("ENABLE_METRICS"); !set {
		cfg.Enabled = true
	}
	authCfg, err := auth.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	if !authCfg.HasKey() {
		return errors.New("set JWT_SECRET_KEY (e.g. export JWT_SECRET_KEY=$(openssl rand -hex 32)): the metrics endpoint is only served with authentication")
	}
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithLogger(logger))
	if err != nil {
		return err
	}
	// The verifier counts refused scrapes into the same pipeline.
	verifier, err := auth.NewVerifier(authCfg, auth.WithMeterProvider(p.MeterProvider()), auth.WithLogger(logger))
	if err != nil {
		return errors.Join(err, p.Shutdown(context.Background()))
	}

	srv := &http.Server{
		Addr:              cfg.Addr(),
		Handler:           handler(p, verifier.Middleware(p.MetricsHandler())),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info(name+" listening", "addr", "http://"+cfg.Addr(), "metrics", "http://"+cfg.Addr()+"/metrics/prometheus")
	select {
	case err := <-errc:
		return errors.Join(err, p.Shutdown(context.Background()))
	case <-ctx.Done():
	}
	// Drain requests first so their measurements are in the final flush.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(sctx), p.Shutdown(sctx))
}
