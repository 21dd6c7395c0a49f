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
  version   print the version

Configuration comes from the environment: ENABLE_METRICS, METRICS_*, HOST,
PORT, AUTH_REQUIRED. See README.md.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, lookup)
	case "check":
		return check(args, stdout, stderr, lookup)
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
}

func loadSettings(lookup func(string) (string, bool)) (settings, error) {
	var s settings
	var errs []error
	var err error
	s.metrics, err = otelmetrics.ConfigFromEnv(lookup)
	errs = append(errs, err)
	s.authRequired, err = env.Bool(lookup, "AUTH_REQUIRED", true)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if s.metrics.Enabled && s.authRequired {
		return s, env.Errorf("AUTH_REQUIRED", "true",
			"this build cannot verify scrape tokens yet; set AUTH_REQUIRED=false to serve metrics without authentication, or ENABLE_METRICS=false")
	}
	return s, nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func check(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
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
	return exitOK
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM before the listener is closed under them.
const shutdownTimeout = 10 * time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
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
	p, err := otelmetrics.NewProvider(s.metrics, otelmetrics.WithLogger(logger), otelmetrics.WithVersion(appVersion()))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}

	mux := http.NewServeMux()
	registerDemo(mux)
	mux.Handle("GET "+promexport.Path, p.MetricsHandler())

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
	auth := "required"
	if !s.authRequired {
		auth = "OFF: the metrics endpoint is served without authentication"
	}
	if !s.metrics.Enabled {
		auth = "n/a (metrics disabled: the endpoint answers 503; set ENABLE_METRICS=true)"
	}
	logger.Info("metricsbridge serving", "gateway", base, "metrics", base+promexport.Path,
		"metrics_enabled", s.metrics.Enabled, "auth", auth, "version", appVersion())

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
	if err := p.Shutdown(sctx); err != nil {
		logger.Error("flushing metrics", "err", err)
		code = exitFail
	}
	return code
}
