package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// The bridge's own probes, next to promexport.Path.
const (
	pathHealth = "/health"
	pathReady  = "/ready"
)

const serveSummary = `Without --upstream, runs the instrumented demo gateway. With --upstream,
forwards every request to that service and records it, labelled by the
--routes template it matched. /metrics/prometheus, /health (liveness) and
/ready (readiness) are the bridge's own, on the main listener or on
--metrics-addr. SIGTERM or SIGINT stops accepting connections, lets
in-flight requests finish within --shutdown-timeout, pushes a last OTLP
export and exits 0.
`

// certPollInterval is how often the TLS files are checked for a change;
// SIGHUP reloads at once.
const certPollInterval = 5 * time.Second

// closeGrace bounds the wait, after the drain timeout closed connections
// under them, for handlers to return and be counted.
const closeGrace = 5 * time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env.Lookup) int {
	s, _, code, ok := loadCommand("serve", serveSummary, args, stderr, lookup)
	if !ok {
		return code
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := newLogger(stderr, s.server)
	// The SDK reports each failed export through the process-wide handler,
	// which would print an unstructured line per interval; the pusher
	// already counts failures and logs them rate-limited.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Debug("opentelemetry", "err", err) }))

	popts := []otelmetrics.Option{otelmetrics.WithLogger(logger), otelmetrics.WithVersion(appVersion()), otelmetrics.WithResource(s.resource)}
	var pusher *collector.Pusher
	var err error
	if s.push {
		if pusher, err = collector.New(ctx, s.otlp, collector.WithLogger(logger)); err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
		popts = append(popts, otelmetrics.WithReader(pusher.Reader()))
	}
	p, err := otelmetrics.NewProvider(s.metrics, popts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	otlpState := "off"
	if pusher != nil {
		if err := pusher.RegisterMetrics(p.MeterProvider()); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		otlpState = s.otlp.URL + " (" + s.otlp.Temporality + ", every " + s.otlp.Interval.String() + ")"
	}

	metrics := p.MetricsHandler()
	authState := "n/a (metrics disabled: the endpoint answers 503; set ENABLE_METRICS=true)"
	switch {
	case s.protected():
		v, err := auth.NewVerifier(s.auth, auth.WithMeterProvider(p.MeterProvider()), auth.WithLogger(logger))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
		metrics = v.Middleware(metrics)
		authState = "bearer token (" + s.auth.Algorithm + ")"
		for _, w := range s.auth.Warnings() {
			logger.Warn("weak scrape-token key", "detail", w)
		}
	case s.metrics.Enabled:
		authState = "OFF"
		logger.Warn("AUTH_REQUIRED=false: the metrics endpoint is served WITHOUT authentication; anyone who can reach this port can read every series",
			"metrics", promexport.Path)
	}

	own := http.NewServeMux()
	registerOwn(own, metrics, s.server.upstream)
	shared := s.server.metricsAddr == ""
	var app http.Handler
	mode := "demo gateway"
	switch {
	case s.server.upstream != nil:
		px, err := newProxy(s.server, logger)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
		px.watchOpenAPI(ctx, s.server.openapiRefresh)
		app, mode = px, "proxy to "+s.server.upstream.Redacted()
		if shared {
			app = withOwn(own, px)
		}
	case shared:
		registerDemo(own)
		app = own
	default:
		demo := http.NewServeMux()
		registerDemo(demo)
		app = demo
	}

	var tlsConfig *tls.Config
	if s.server.tls() {
		certs, err := newCertReloader(s.server.tlsCert, s.server.tlsKey, logger)
		if err != nil {
			fmt.Fprintln(stderr, env.Errorf(envTLSCert, s.server.tlsCert, "%v", err))
			return exitConfig
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go certs.watch(ctx, certPollInterval, hup)
		tlsConfig = certs.tlsConfig()
	}

	// inflight counts handlers still running, so that no request is left
	// out of the final push even when the drain timeout cuts it short.
	var inflight atomic.Int64
	newServer := func(h http.Handler) *http.Server {
		h = p.Middleware(h)
		var tc *tls.Config
		if tlsConfig != nil {
			// Each server adds its ALPN protocols to its own copy.
			tc = tlsConfig.Clone()
		}
		return &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inflight.Add(1)
				defer inflight.Add(-1)
				h.ServeHTTP(w, r)
			}),
			TLSConfig:         tc,
			ReadHeaderTimeout: s.server.readHeaderTimeout,
			ReadTimeout:       s.server.readTimeout,
			WriteTimeout:      s.server.writeTimeout,
			IdleTimeout:       s.server.idleTimeout,
			MaxHeaderBytes:    s.server.maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		}
	}
	type listener struct {
		srv *http.Server
		ln  net.Listener
	}
	var listeners []listener
	defer func() {
		for _, l := range listeners {
			l.ln.Close()
		}
	}()
	listen := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		listeners = append(listeners, listener{newServer(h), ln})
		scheme := "http://"
		if tlsConfig != nil {
			scheme = "https://"
		}
		return scheme + ln.Addr().String(), nil
	}
	base, err := listen(s.metrics.Addr(), app)
	if err != nil {
		logger.Error("cannot listen", "addr", s.metrics.Addr(), "err", err)
		return exitFail
	}
	ownBase := base
	if !shared {
		if ownBase, err = listen(s.server.metricsAddr, own); err != nil {
			logger.Error("cannot listen", "addr", s.server.metricsAddr, "err", err)
			return exitFail
		}
	}
	logger.Info("metricsbridge serving", "gateway", base, "mode", mode, "metrics", ownBase+promexport.Path,
		"metrics_enabled", s.metrics.Enabled, "auth", authState, "otlp", otlpState, "version", appVersion())

	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if tlsConfig != nil {
				errc <- l.srv.ServeTLS(l.ln, "", "")
			} else {
				errc <- l.srv.Serve(l.ln)
			}
		}()
	}
	select {
	case err := <-errc:
		logger.Error("server stopped", "err", err)
		return exitFail
	case <-ctx.Done():
	}

	logger.Info("shutting down: draining in-flight requests", "timeout", s.server.shutdownTimeout, "in_flight", inflight.Load())
	sctx, scancel := context.WithTimeout(context.Background(), s.server.shutdownTimeout)
	defer scancel()
	done := make(chan struct{}, len(listeners))
	for _, l := range listeners {
		go func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				// Long streams (SSE) are the usual cause: they are cut,
				// and counted with the status they already sent.
				logger.Warn("requests still running after the shutdown timeout are closed", "err", err)
				l.srv.Close()
			}
			done <- struct{}{}
		}()
	}
	for range listeners {
		<-done
	}
	for deadline := time.Now().Add(closeGrace); inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := inflight.Load(); n > 0 {
		logger.Warn("handlers still running after their connections closed; their requests are missing from the final push", "count", n)
	}

	code = exitOK
	fctx, fcancel := context.WithTimeout(context.Background(), s.otlp.ExportTimeout+time.Second)
	defer fcancel()
	// Shutting the provider down pushes a final OTLP export.
	if err := p.Shutdown(fctx); err != nil {
		logger.Error("flushing metrics", "err", err)
		code = exitFail
	}
	logger.Info("stopped")
	return code
}

// registerOwn mounts the bridge's endpoints. They answer without a scrape
// token: probes carry none, and they reveal nothing.
func registerOwn(mux *http.ServeMux, metrics http.Handler, upstream *url.URL) {
	mux.Handle("GET "+promexport.Path, metrics)
	mux.HandleFunc("GET "+pathHealth, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	})
	// Readiness needs no draining state: on SIGTERM the listeners close at
	// once, so no probe could see one; Kubernetes takes a terminating pod
	// out of its Service by itself.
	mux.HandleFunc("GET "+pathReady, func(w http.ResponseWriter, r *http.Request) {
		if upstream != nil {
			if err := dialUpstream(r.Context(), upstream); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "upstream unreachable", "error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// dialUpstream is the readiness check of proxy mode: a proxy whose
// upstream refuses connections should be taken out of rotation.
func dialUpstream(ctx context.Context, u *url.URL) error {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err
		}
		return err
	}
	return c.Close()
}

// withOwn serves the bridge's paths from own and every other path through
// the proxy, which then owns no redirects or 404s of its own.
func withOwn(own *http.ServeMux, px *proxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case promexport.Path, pathHealth, pathReady:
			own.ServeHTTP(w, r)
		default:
			px.ServeHTTP(w, r)
		}
	})
}
