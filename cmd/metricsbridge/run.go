package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Exit codes: 2 is reserved for configuration the program refuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `usage: metricsbridge [command]

commands:
  serve     run the instrumented demo gateway (default)
  check     validate the configuration from the environment and print it
  token     create or verify scrape tokens (metricsbridge token -h)
  version   print the version

Configuration comes from the environment: ENABLE_METRICS, METRICS_*, HOST,
PORT, AUTH_REQUIRED, JWT_*, OTEL_* and METRICS_OTLP_VENDOR. See README.md.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup env.Lookup) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, lookup)
	case "check":
		return check(args, stdout, stderr, lookup)
	case "token":
		return token(args, stdin, stdout, stderr, lookup)
	case "version":
		fmt.Fprintln(stdout, appVersion())
		return exitOK
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "metricsbridge: unknown command %q\n%s", cmd, usage)
	return exitConfig
}

func appVersion() string {
	if version != "" {
		return version
	}
	return "devel"
}

// settings is everything serve needs, loaded and validated in one place so
// that serve and check can never disagree.
type settings struct {
	metrics      otelmetrics.Config
	authRequired bool
	auth         auth.Config
	otlp         collector.Config
	// push is whether instruments are pushed over OTLP.
	push     bool
	resource *resource.Resource
}

// envAuthRequired turns bearer-token checks on the metrics endpoint on or off.
const envAuthRequired = "AUTH_REQUIRED"

func loadSettings(lookup env.Lookup) (settings, error) {
	var s settings
	var errs []error
	var err error
	s.metrics, err = otelmetrics.ConfigFromEnv(lookup)
	errs = append(errs, err)
	s.authRequired, err = env.Bool(lookup, envAuthRequired, true)
	errs = append(errs, err)
	s.auth, err = auth.ConfigFromEnv(lookup)
	errs = append(errs, err)
	s.otlp, err = collector.ConfigFromEnv(lookup)
	errs = append(errs, err)
	s.resource, err = collector.Resource(lookup, appVersion())
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	// ENABLE_METRICS stays the master switch; OTEL_METRICS_EXPORTER picks
	// where the metrics go.
	s.push = s.metrics.Enabled && s.otlp.OTLP
	s.metrics.Enabled = s.metrics.Enabled && s.otlp.Prometheus
	if s.protected() && !s.auth.HasKey() {
		return s, env.Errorf(envAuthRequired, "true",
			"ENABLE_METRICS=true needs a key to verify scrape tokens: set %s (HS256/384/512) or %s with %s, or set AUTH_REQUIRED=false to serve metrics without authentication",
			auth.EnvSecret, auth.EnvPublicKeyPath, auth.EnvAlgorithm)
	}
	return s, nil
}

// protected reports whether scrapes must present a token. With metrics
// disabled the endpoint only answers 503, so there is nothing to protect.
func (s settings) protected() bool { return s.metrics.Enabled && s.authRequired }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func check(args []string, stdout, stderr io.Writer, lookup env.Lookup) int {
	fs := newFlagSet("check", stderr)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	s, err := loadSettings(lookup)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	m := s.metrics
	labels := make([]string, len(m.CustomLabels))
	for i, l := range m.CustomLabels {
		labels[i] = l.Key + "=" + l.Value
	}
	fmt.Fprintf(stdout, "ENABLE_METRICS=%t\n", m.Enabled)
	fmt.Fprintf(stdout, "METRICS_EXCLUDED_HANDLERS=%s\n", strings.Join(m.ExcludedHandlers, ","))
	fmt.Fprintf(stdout, "METRICS_NAMESPACE=%s\n", m.Namespace)
	fmt.Fprintf(stdout, "METRICS_SUBSYSTEM=%s\n", m.Subsystem)
	fmt.Fprintf(stdout, "METRICS_CUSTOM_LABELS=%s\n", strings.Join(labels, ","))
	fmt.Fprintf(stdout, "METRICS_LATENCY_BUCKETS=%s\n", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(m.LatencyBuckets)), ","), "[]"))
	fmt.Fprintf(stdout, "METRICS_CARDINALITY_LIMIT=%d\n", m.CardinalityLimit)
	fmt.Fprintf(stdout, "HOST=%s\nPORT=%d\n", m.Host, m.Port)
	fmt.Fprintf(stdout, "AUTH_REQUIRED=%t\n", s.authRequired)
	a := s.auth
	fmt.Fprintf(stdout, "%s=%s\n", auth.EnvAlgorithm, a.Algorithm)
	secrets := []string{auth.EnvSecret, auth.EnvSecretPrevious}
	for i, name := range secrets {
		v := "(unset)"
		if i < len(a.Secrets) {
			v = fmt.Sprintf("(set, %d bytes, hidden)", len(a.Secrets[i]))
		}
		fmt.Fprintf(stdout, "%s=%s\n", name, v)
	}
	for _, name := range []string{auth.EnvPublicKeyPath, auth.EnvPublicKeyPrevious, auth.EnvAudience, auth.EnvIssuer, auth.EnvRequiredScope} {
		fmt.Fprintf(stdout, "%s=%s\n", name, env.String(lookup, name, ""))
	}
	fmt.Fprintf(stdout, "%s=%s\n", auth.EnvLeeway, a.Leeway)
	for _, line := range s.otlp.Settings() {
		fmt.Fprintln(stdout, line)
	}
	for _, w := range a.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return exitOK
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM before the listener is closed under them.
const shutdownTimeout = 10 * time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env.Lookup) int {
	fs := newFlagSet("serve", stderr)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s, err := loadSettings(lookup)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	popts := []otelmetrics.Option{otelmetrics.WithLogger(logger), otelmetrics.WithVersion(appVersion()), otelmetrics.WithResource(s.resource)}
	var pusher *collector.Pusher
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

	mux := http.NewServeMux()
	registerDemo(mux)
	mux.Handle("GET "+promexport.Path, metrics)

	ln, err := net.Listen("tcp", s.metrics.Addr())
	if err != nil {
		logger.Error("cannot listen", "addr", s.metrics.Addr(), "err", err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           p.Middleware(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + ln.Addr().String()
	logger.Info("metricsbridge serving", "gateway", base, "metrics", base+promexport.Path,
		"metrics_enabled", s.metrics.Enabled, "auth", authState, "otlp", otlpState, "version", appVersion())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		logger.Error("server stopped", "err", err)
		return exitFail
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	code := exitOK
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("draining requests", "err", err)
		code = exitFail
	}
	// Shutting the provider down pushes a final OTLP export.
	if err := p.Shutdown(sctx); err != nil {
		logger.Error("flushing metrics", "err", err)
		code = exitFail
	}
	return code
}
