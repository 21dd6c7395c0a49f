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
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// The scrape endpoint, the bridge's own probes, and the dashboard's page
// and data, which the page expects as siblings.
const (
	pathMetrics   = "/metrics/prometheus"
	pathHealth    = "/health"
	pathReady     = "/ready"
	pathDashboard = "/metrics/dashboard"
	pathSummary   = "/metrics/summary"
)

const serveSummary = `Without --upstream, runs the instrumented demo gateway. With --upstream,
forwards every request to that service and records it, labelled by the
--routes template it matched, else by the template of the upstream's OpenAPI
document (--openapi). A request that arrives with a sampled W3C traceparent
is an exemplar with the caller's trace ID. /metrics/prometheus, /health
(liveness), /ready (readiness), /metrics/dashboard and /metrics/summary are
the bridge's own, on the main listener or on --metrics-addr. SIGTERM or
SIGINT stops accepting connections, lets in-flight requests finish within
--shutdown-timeout, pushes a last OTLP export and exits 0.
`

// certPollInterval is how often the TLS files are checked for a change;
// SIGHUP reloads at once.
const certPollInterval = 5 * time.Second

// closeGrace bounds the wait, after the drain timeout closed connections
// under them, for handlers to return and be counted.
const closeGrace = time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env.Lookup, environ []string) int {
	s, _, code, ok := loadCommandInterruptible(ctx, "serve", serveSummary, args, stderr, lookup, environ)
	if !ok {
		return code
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := newLogger(stderr, s.server)
	for _, w := range s.warnings {
		logger.Warn("check the configuration", "warning", w)
	}
	// The SDK reports each failed export through the process-wide handler,
	// which would print an unstructured line per interval; the pusher
	// already counts failures and logs them rate-limited.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Debug("opentelemetry", "err", err) }))

	b := &server{s: s, logger: logger}
	defer b.closeListeners()
	if code, err := b.start(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return code
	}
	if code, ok := b.serve(ctx); !ok {
		return code
	}
	return b.shutdown()
}

// server is serve's state from start to shutdown. Each step is a method so
// that it reads on its own; start does them in order.
type server struct {
	s      settings
	logger *slog.Logger

	provider  *otelmetrics.Provider
	pusher    *collector.Pusher // nil: no OTLP push
	otlpState string            // the OTLP line of the start-up log
	metrics   http.Handler
	guard     func(http.Handler) http.Handler // the bearer check, or nil
	authState string                          // the auth line of the start-up log
	app, own  http.Handler
	mode      string
	tls       *tls.Config // nil: plain HTTP

	listeners []listener
	// inflight counts handlers still running, so that no request is left
	// out of the final push even when the drain timeout cuts it short.
	inflight atomic.Int64
}

type listener struct {
	srv *http.Server
	ln  net.Listener
}

// start builds everything serve needs before it accepts a connection; on
// failure it returns the exit status and the reason.
func (b *server) start(ctx context.Context) (int, error) {
	steps := []func(context.Context) (int, error){b.startProviders, b.startAuth, b.startHandlers, b.startTLS}
	for _, step := range steps {
		if code, err := step(ctx); err != nil {
			return code, err
		}
	}
	return exitOK, nil
}

// startProviders creates the MeterProvider, with the OTLP pusher as a
// second reader when push is on.
func (b *server) startProviders(ctx context.Context) (int, error) {
	s := b.s
	popts := []otelmetrics.Option{otelmetrics.WithLogger(b.logger), otelmetrics.WithVersion(appVersion()), otelmetrics.WithResource(s.resource)}
	if s.server.upstream != nil {
		// Paths outside --routes are forwarded unlabelled by design.
		popts = append(popts, otelmetrics.WithoutUnroutedWarning())
	}
	var pusher *collector.Pusher
	if s.push {
		var err error
		if pusher, err = collector.New(ctx, s.otlp, collector.WithLogger(b.logger),
			collector.WithCardinalityLimit(s.metrics.CardinalityLimit)); err != nil {
			return exitConfig, err
		}
		popts = append(popts, otelmetrics.WithReader(pusher.Reader()))
	}
	p, err := otelmetrics.NewProvider(s.metrics, popts...)
	if err != nil {
		return exitConfig, err
	}
	b.provider, b.pusher = p, pusher
	b.otlpState = "off"
	if pusher != nil {
		if err := pusher.RegisterMetrics(p.MeterProvider()); err != nil {
			return exitFail, err
		}
		b.otlpState = otlpenv.RedactURL(s.otlp.URL) + " (" + string(s.otlp.Temporality) + ", every " + s.otlp.Interval.String() + ")"
	}
	return exitOK, nil
}

// startAuth puts the bearer-token check in front of the metrics endpoint
// when scrapes must present a token.
func (b *server) startAuth(context.Context) (int, error) {
	s := b.s
	b.metrics = b.provider.MetricsHandler()
	b.authState = "n/a (metrics disabled: the endpoint answers 503; set ENABLE_METRICS=true)"
	switch {
	case !s.metrics.Enabled && s.authRequired && hasKey(s.auth):
		// As in the Python gateway, the token is checked before the
		// 503, so a caller without one learns nothing about the switch.
		v, err := auth.NewVerifier(s.auth, auth.WithMeterProvider(b.provider.MeterProvider()), auth.WithLogger(b.logger))
		if err != nil {
			return exitConfig, err
		}
		b.guard = v.Middleware
		b.metrics = v.Middleware(b.metrics)
		b.authState = "bearer token (" + s.auth.Algorithm + "), then 503: metrics disabled; set ENABLE_METRICS=true"
	case s.protected():
		v, err := auth.NewVerifier(s.auth, auth.WithMeterProvider(b.provider.MeterProvider()), auth.WithLogger(b.logger))
		if err != nil {
			return exitConfig, err
		}
		b.guard = v.Middleware
		b.metrics = v.Middleware(b.metrics)
		b.authState = "bearer token (" + s.auth.Algorithm + ")"
	case s.metrics.Enabled:
		b.authState = "OFF"
		b.logger.Warn("AUTH_REQUIRED=false: the metrics endpoint is served WITHOUT authentication; anyone who can reach this port can read every series",
			"metrics", pathMetrics)
	}
	return exitOK, nil
}

// startHandlers builds the main listener's handler (demo gateway or proxy)
// and the bridge's own endpoints, shared with it or on --metrics-addr.
func (b *server) startHandlers(ctx context.Context) (int, error) {
	srv := b.s.server
	own := http.NewServeMux()
	registerOwn(own, b.metrics, srv.upstream, b.logger)
	b.registerDashboard(own)
	b.own = own
	shared := srv.metricsAddr == ""
	b.mode = "demo gateway"
	switch {
	case srv.upstream != nil:
		px, err := newProxy(srv, b.logger)
		if err != nil {
			return exitConfig, err
		}
		px.watchOpenAPI(ctx, srv.openapiRefresh)
		b.app, b.mode = px, "proxy to "+srv.upstream.Redacted()
		if shared {
			b.app = withOwn(own, px)
		}
	case shared:
		registerDemo(own)
		b.app = own
	default:
		demo := http.NewServeMux()
		registerDemo(demo)
		b.app = demo
	}
	return exitOK, nil
}

// startTLS loads the certificate and watches its files until ctx ends.
func (b *server) startTLS(ctx context.Context) (int, error) {
	srv := b.s.server
	if !srv.tls() {
		return exitOK, nil
	}
	certs, err := newCertReloader(srv.tlsCert, srv.tlsKey, b.logger)
	if err != nil {
		return exitConfig, env.Errorf(envTLSCert, srv.tlsCert, "%v", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		signal.Stop(hup)
	}()
	go certs.watch(ctx, certPollInterval, hup)
	b.tls = certs.tlsConfig()
	return exitOK, nil
}

// newServer wraps h in the request middleware and the in-flight count.
func (b *server) newServer(h http.Handler) *http.Server {
	srv := b.s.server
	h = b.provider.Middleware(h)
	if b.s.metrics.Exemplars {
		h = extractTraceContext(h)
	}
	var tc *tls.Config
	if b.tls != nil {
		// Each server adds its ALPN protocols to its own copy.
		tc = b.tls.Clone()
	}
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.inflight.Add(1)
			defer b.inflight.Add(-1)
			h.ServeHTTP(w, r)
		}),
		TLSConfig:         tc,
		ReadHeaderTimeout: srv.readHeaderTimeout,
		ReadTimeout:       srv.readTimeout,
		WriteTimeout:      srv.writeTimeout,
		IdleTimeout:       srv.idleTimeout,
		MaxHeaderBytes:    srv.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(b.logger.Handler(), slog.LevelDebug),
	}
}

// listen opens addr for h and returns its base URL.
func (b *server) listen(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	b.listeners = append(b.listeners, listener{b.newServer(h), ln})
	scheme := "http://"
	if b.tls != nil {
		scheme = "https://"
	}
	return scheme + ln.Addr().String(), nil
}

func (b *server) closeListeners() {
	for _, l := range b.listeners {
		l.ln.Close()
	}
}

// serve opens the listeners and serves until ctx ends (ok) or a server
// fails (not ok, with the exit status).
func (b *server) serve(ctx context.Context) (int, bool) {
	s := b.s
	addr := s.metrics.Addr()
	base, err := b.listen(addr, b.app)
	if err != nil {
		b.logger.Error("cannot listen", "addr", addr, "err", err)
		return exitFail, false
	}
	ownBase := base
	if s.server.metricsAddr != "" {
		if ownBase, err = b.listen(s.server.metricsAddr, b.own); err != nil {
			b.logger.Error("cannot listen", "addr", s.server.metricsAddr, "err", err)
			return exitFail, false
		}
	}
	b.logger.Info("metricsbridge serving", "gateway", base, "mode", b.mode, "metrics", ownBase+pathMetrics,
		"metrics_enabled", s.metrics.Enabled, "auth", b.authState, "otlp", b.otlpState, "version", appVersion())
	b.logDashboard(ownBase)

	if b.pusher != nil {
		// A first export now rather than one interval after start: a wrong
		// endpoint or key is in the log within seconds. The pusher logs
		// the outcome; a SIGTERM cuts it short.
		go func() { _ = b.pusher.Flush(ctx) }()
	}

	errc := make(chan error, len(b.listeners))
	for _, l := range b.listeners {
		go func() {
			if b.tls != nil {
				errc <- l.srv.ServeTLS(l.ln, "", "")
			} else {
				errc <- l.srv.Serve(l.ln)
			}
		}()
	}
	select {
	case err := <-errc:
		b.logger.Error("server stopped", "err", err)
		return exitFail, false
	case <-ctx.Done():
		return exitOK, true
	}
}

// minFlush is the least time the final OTLP export gets when draining
// took all of SHUTDOWN_TIMEOUT.
const minFlush = time.Second

// shutdown drains the listeners, waits for the handlers to be counted and
// pushes the last OTLP export, all within SHUTDOWN_TIMEOUT (plus minFlush
// when the drain used it all): an orchestrator's grace period is set from
// that one figure. An OTLP destination that is down cannot delay the exit
// past it, nor make it fail: what the last export could not deliver is
// logged and counted by the pusher, and the exit is 0.
func (b *server) shutdown() int {
	deadline := time.Now().Add(b.s.server.shutdownTimeout)
	b.drain(deadline)
	code := exitOK
	// The export timeout still bounds the final export when it is shorter.
	budget := min(max(time.Until(deadline), minFlush), b.s.otlp.ExportTimeout)
	fctx, fcancel := context.WithTimeout(context.Background(), budget)
	defer fcancel()
	// Shutting the provider down pushes a final OTLP export.
	if err := b.provider.Shutdown(fctx); err != nil {
		if errors.Is(err, otlpenv.ErrExportFailed) || errors.Is(err, collector.ErrPartialSuccess) {
			// Already logged by the pusher with what was not delivered.
			b.logger.Debug("final OTLP export", "err", err)
		} else {
			b.logger.Error("flushing metrics", "err", err)
			code = exitFail
		}
	}
	b.logger.Info("stopped")
	return code
}

// drain stops accepting connections and lets in-flight requests finish
// until deadline.
func (b *server) drain(deadline time.Time) {
	timeout := b.s.server.shutdownTimeout
	b.logger.Info("shutting down: draining in-flight requests", "timeout", timeout, "in_flight", b.inflight.Load())
	sctx, scancel := context.WithDeadline(context.Background(), deadline)
	defer scancel()
	done := make(chan struct{}, len(b.listeners))
	for _, l := range b.listeners {
		go func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				// Long streams (SSE) are the usual cause: they are cut,
				// and counted with the status they already sent.
				b.logger.Warn("requests still running after the shutdown timeout are closed", "err", err)
				l.srv.Close()
			}
			done <- struct{}{}
		}()
	}
	for range b.listeners {
		<-done
	}
	end := deadline
	if until := time.Now().Add(closeGrace); until.After(end) {
		end = until
	}
	for b.inflight.Load() > 0 && time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.inflight.Load(); n > 0 {
		b.logger.Warn("handlers still running after their connections closed; their requests are missing from the final push", "count", n)
	}
}

// registerOwn mounts the bridge's endpoints. They answer without a scrape
// token: probes carry none, and they reveal nothing.
func registerOwn(mux *http.ServeMux, metrics http.Handler, upstream *url.URL, logger *slog.Logger) {
	mux.Handle("GET "+pathMetrics, metrics)
	mux.HandleFunc("GET "+pathHealth, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	})
	// Readiness needs no draining state: on SIGTERM the listeners close at
	// once, so no probe could see one; Kubernetes takes a terminating pod
	// out of its Service by itself.
	if upstream != nil {
		mux.Handle("GET "+pathReady, newReadiness(upstream, logger))
		return
	}
	mux.HandleFunc("GET "+pathReady, func(w http.ResponseWriter, _ *http.Request) {
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
		case pathMetrics, pathHealth, pathReady, pathSummary, pathDashboard:
			own.ServeHTTP(w, r)
		default:
			if dashboardAsset(r.URL.Path) {
				own.ServeHTTP(w, r)
				return
			}
			px.ServeHTTP(w, r)
		}
	})
}
