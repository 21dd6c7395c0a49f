package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// Exit codes: 2 is reserved for configuration the program refuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `usage: metricsbridge [command] [flags]

commands:
  serve     run the instrumented demo gateway, or with --upstream an
            instrumenting reverse proxy in front of any HTTP service (default)
  check     validate the configuration (environment and flags) and print it
  token     create or verify scrape tokens
  version   print the version
  help      print this text

Run "metricsbridge COMMAND -h" for the flags of a command and the
environment variable each one can also be set by. Metrics, scrape-token and
OTLP settings come from ENABLE_METRICS, METRICS_*, AUTH_REQUIRED, JWT_*,
OTEL_* and METRICS_OTLP_VENDOR. See README.md.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup env.Lookup) int {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || slices.Contains([]string{"-h", "-help", "--help"}, args[0])) {
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
		fs := newFlagSet("version", stderr)
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), "usage: metricsbridge version\n\nprints the version and exits; it has no flags\n")
		}
		if err := fs.Parse(args); err != nil {
			return exitCodeOf(err)
		}
		fmt.Fprintln(stdout, appVersion())
		return exitOK
	case "help", "-h", "-help", "--help":
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
	server   serverSettings
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
	s.server, err = loadServerSettings(lookup)
	errs = append(errs, err)
	// The bridge's own probes would otherwise outnumber real traffic on a
	// quiet service; an explicit METRICS_EXCLUDED_HANDLERS (even empty)
	// replaces this default.
	if _, ok := lookup(otelmetrics.EnvExcludedHandlers); !ok {
		s.metrics.ExcludedHandlers = []string{"^" + pathHealth + "$", "^" + pathReady + "$"}
	}
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

// exitCodeOf is the exit status after a flag parse error: asking for help
// is a success.
func exitCodeOf(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitConfig
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

const checkSummary = `Loads the configuration from the environment and the flags exactly as serve
would, prints the effective settings with secrets masked and exits 0, or
prints every bad value and exits 2.
`

// loadCommand parses the flags of serve or check and loads the settings;
// when it fails it has said why on stderr and returns the exit status.
func loadCommand(name, summary string, args []string, stderr io.Writer, lookup env.Lookup) (settings, env.Lookup, int, bool) {
	lookup, rename, err := parseOptions(name, summary, args, stderr, lookup)
	if err != nil {
		return settings{}, nil, exitCodeOf(err), false
	}
	s, err := loadSettings(lookup)
	if err != nil {
		fmt.Fprintln(stderr, rename(err))
		return settings{}, nil, exitConfig, false
	}
	return s, lookup, exitOK, true
}

func check(args []string, stdout, stderr io.Writer, lookup env.Lookup) int {
	s, lookup, code, ok := loadCommand("check", checkSummary, args, stderr, lookup)
	if !ok {
		return code
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
	fmt.Fprintf(stdout, "METRICS_PROMETHEUS_NAMES=%s\n", m.PrometheusNames)
	fmt.Fprintf(stdout, "METRICS_EXEMPLARS=%t\n", m.Exemplars)
	fmt.Fprintf(stdout, "METRICS_BODY_SIZES=%t\n", m.BodySizes)
	fmt.Fprintf(stdout, "METRICS_HISTOGRAMS=%s\n", m.Histograms)
	fmt.Fprintf(stdout, "METRICS_NATIVE_MAX_BUCKETS=%d\n", m.NativeMaxBuckets)
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
	for _, name := range []string{auth.EnvSecretFile, auth.EnvPublicKeyPath, auth.EnvPublicKeyPrevious, auth.EnvAudience, auth.EnvIssuer, auth.EnvRequiredScope} {
		fmt.Fprintf(stdout, "%s=%s\n", name, env.String(lookup, name, ""))
	}
	fmt.Fprintf(stdout, "%s=%s\n", auth.EnvLeeway, a.Leeway)
	maxAge := "off"
	if a.MaxTokenAge > 0 {
		maxAge = a.MaxTokenAge.String()
	}
	fmt.Fprintf(stdout, "%s=%s\n%s=%t\n", auth.EnvMaxTokenAge, maxAge, auth.EnvAllowWeakSecret, a.AllowWeakSecret)
	for _, line := range s.otlp.Settings() {
		fmt.Fprintln(stdout, line)
	}
	srv := s.server
	upstream := ""
	if srv.upstream != nil {
		upstream = srv.upstream.String()
	}
	fmt.Fprintf(stdout, "%s=%s\n", envUpstream, upstream)
	fmt.Fprintf(stdout, "%s=%s\n", envRoutes, strings.Join(srv.routes, ","))
	fmt.Fprintf(stdout, "%s=%s\n%s=%s\n", envOpenAPI, env.String(lookup, envOpenAPI, ""), envOpenAPIRefresh, srv.openapiRefresh)
	if srv.upstream != nil {
		fmt.Fprintf(stdout, "route templates: %s\n", srv.routeSummary())
	}
	if srv.openapi != nil {
		for _, c := range srv.openapi.table.conflicts {
			taken := ""
			if c.taken != "" {
				taken = ", which " + c.taken + " takes"
			}
			fmt.Fprintf(stderr, "warning: OpenAPI templates overlap: %s wins over %s (e.g. %s%s)\n", c.winner, c.loser, c.example, taken)
		}
		for _, n := range srv.openapi.notes {
			fmt.Fprintf(stderr, "warning: OpenAPI document: %s\n", n)
		}
	}
	fmt.Fprintf(stdout, "%s=%s\n", envMetricsAddr, srv.metricsAddr)
	fmt.Fprintf(stdout, "%s=%s\n%s=%s\n", envTLSCert, srv.tlsCert, envTLSKey, srv.tlsKey)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{envUpstreamTimeout, srv.upstreamTimeout}, {envReadHeaderTimeout, srv.readHeaderTimeout},
		{envReadTimeout, srv.readTimeout}, {envWriteTimeout, srv.writeTimeout},
		{envIdleTimeout, srv.idleTimeout}, {envShutdownTimeout, srv.shutdownTimeout},
	} {
		fmt.Fprintf(stdout, "%s=%s\n", d.name, d.v)
	}
	fmt.Fprintf(stdout, "%s=%d\n", envMaxHeaderBytes, srv.maxHeaderBytes)
	format := "text"
	if srv.logJSON {
		format = "json"
	}
	fmt.Fprintf(stdout, "%s=%s\n%s=%s\n", envLogFormat, format, envLogLevel, strings.ToLower(srv.logLevel.String()))
	for _, w := range a.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return exitOK
}
