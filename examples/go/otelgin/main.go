// Command otelgin measures a gin-gonic/gin engine instrumented with
// OpenTelemetry's otelgin alone, with no middleware of metricsbridge's:
// given the bridge's MeterProvider, otelgin's http.server.request.duration
// (with gin's route path as http.route) becomes http_requests_total and
// http_request_duration_seconds on the bridge's scrape endpoint, the same
// series the bridge's own middleware gives.
//
//	cd examples/go/otelgin
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
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// newRouter routes the program's requests, each through instrument first;
// metrics is the scrape endpoint.
func newRouter(metrics http.Handler, instrument gin.HandlerFunc) http.Handler {
	r := gin.New()
	r.Use(instrument, gin.Recovery())
	r.GET("/users/:id", getUser)
	r.POST("/users", createUser)
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "healthy"}) })
	r.GET("/metrics/prometheus", gin.WrapH(metrics))
	return r
}

var users = map[string]string{"1": "ada", "2": "grace"}

func getUser(c *gin.Context) {
	id := c.Param("id")
	name, ok := users[id]
	if !ok {
		// The route matched; the user does not exist. The handler label
		// stays "/users/:id", status "404".
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "name": name})
}

func createUser(c *gin.Context) {
	c.JSON(http.StatusCreated, gin.H{"id": "3"})
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("otelgin example stopped", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
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
	verifier, err := auth.NewVerifier(authCfg, auth.WithMeterProvider(p.MeterProvider()), auth.WithLogger(logger))
	if err != nil {
		return errors.Join(err, p.Shutdown(context.Background()))
	}

	srv := &http.Server{
		Addr: cfg.Addr(),
		// No middleware of the bridge's: otelgin records every request
		// into the bridge's MeterProvider, and the scrape endpoint derives
		// the same series from it.
		Handler: newRouter(verifier.Middleware(p.MetricsHandler()),
			otelgin.Middleware("users", otelgin.WithMeterProvider(p.MeterProvider()), otelgin.WithFilter(p.Filter()))),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("otelgin example listening", "addr", "http://"+cfg.Addr(), "metrics", "http://"+cfg.Addr()+"/metrics/prometheus")
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
