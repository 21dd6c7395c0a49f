package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
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

// run is the program; environ, as os.Environ gives it, lets serve and
// check warn about variables they do not know.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup env.Lookup, environ ...string) int {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || slices.Contains([]string{"-h", "-help", "--help"}, args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, lookup, environ)
	case "check":
		return check(ctx, args, stdout, stderr, lookup, environ)
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
	// warnings are about settings that work but deserve a look; serve
	// logs each once at start, check prints them.
	warnings []string
}

// Variables otelmetrics.ConfigFromEnv reads that serve and check look at
// as well: whether METRICS_HISTOGRAMS was set beside the OTel aggregation
// variable, and METRICS_PROMETHEUS_NAMES for its former value.
const (
	envHistograms      = "METRICS_HISTOGRAMS"
	envPrometheusNames = "METRICS_PROMETHEUS_NAMES"
)

// envAuthRequired turns bearer-token checks on the metrics endpoint on or off.
const envAuthRequired = "AUTH_REQUIRED"

// loadSettings reads and checks every setting; ctx cancels what may wait,
// the load of an OpenAPI document.
func loadSettings(ctx context.Context, lookup env.Lookup) (settings, error) {
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
	s.resource, err = otlpenv.Resource(lookup, appVersion())
	errs = append(errs, err)
	s.server, err = loadServerSettings(ctx, lookup)
	errs = append(errs, err)
	// The bridge's own probes would otherwise outnumber real traffic on a
	// quiet service; an explicit METRICS_EXCLUDED_HANDLERS (even empty)
	// replaces this default.
	if _, ok := lookup("METRICS_EXCLUDED_HANDLERS"); !ok {
		s.metrics.ExcludedHandlers = []string{"^" + pathHealth + "$", "^" + pathReady + "$"}
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	// ConfigFromEnv reads a former spelling as the value's present name.
	if v, _ := lookup(envPrometheusNames); strings.TrimSpace(v) != "" && strings.TrimSpace(v) != string(s.metrics.PrometheusNames) {
		s.warnings = append(s.warnings, fmt.Sprintf("%s=%s is the former name of %s=%s, which selects the same series; write %s",
			envPrometheusNames, strings.TrimSpace(v), envPrometheusNames, s.metrics.PrometheusNames, s.metrics.PrometheusNames))
	}
	// ENABLE_METRICS stays the master switch; OTEL_METRICS_EXPORTER picks
	// where the metrics go.
	s.push = s.metrics.Enabled && s.otlp.OTLP
	if s.otlp.OTLP {
		if err := pushHistograms(&s, lookup); err != nil {
			return s, err
		}
	}
	if n := len(s.metrics.LatencyBuckets) + 1; s.otlp.OTLP && s.otlp.MaxBuckets > 0 && s.metrics.Histograms == otelmetrics.HistogramsClassic && n > s.otlp.MaxBuckets {
		// The destination would drop the histogram whole, silently.
		return s, env.Errorf("METRICS_LATENCY_BUCKETS", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s.metrics.LatencyBuckets)), ","), "[]"),
			"%d boundaries make %d buckets; %s=%s keeps histograms of at most %d buckets, so give at most %d boundaries",
			len(s.metrics.LatencyBuckets), n, otlpenv.EnvVendor, s.otlp.Vendor, s.otlp.MaxBuckets, s.otlp.MaxBuckets-1)
	}
	s.metrics.Enabled = s.metrics.Enabled && s.otlp.Prometheus
	if s.protected() && !hasKey(s.auth) {
		return s, noKeyError(lookup)
	}
	return s, nil
}

// pushHistograms reconciles OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
// with METRICS_HISTOGRAMS: an instrument has one aggregation, which the
// scrape and the push share, so the OTel variable picks native histograms
// when METRICS_HISTOGRAMS is unset and must agree with it otherwise. A
// destination that takes explicit buckets only refuses native ones.
func pushHistograms(s *settings, lookup env.Lookup) error {
	_, histogramsSet := lookup(envHistograms)
	_, aggregationSet := lookup(otlpenv.EnvHistogramAggregation)
	native := s.metrics.Histograms == otelmetrics.HistogramsNative
	from, value := envHistograms, string(s.metrics.Histograms) // what asked for native
	switch exponential := s.otlp.HistogramAggregation == otlpenv.HistogramExponential; {
	case aggregationSet && !histogramsSet && exponential:
		s.metrics.Histograms = otelmetrics.HistogramsNative
		native = true
		from, value = otlpenv.EnvHistogramAggregation, s.otlp.HistogramAggregation
	case aggregationSet && histogramsSet && exponential != native:
		return env.Errorf(otlpenv.EnvHistogramAggregation, s.otlp.HistogramAggregation,
			"%s=%s asks for the other aggregation, and the scrape and the push share one; set them alike or unset one",
			envHistograms, s.metrics.Histograms)
	}
	if native && s.otlp.ExplicitOnly {
		return env.Errorf(from, value, "%s=%s takes explicit-bucket histograms only (%s=%s)",
			otlpenv.EnvVendor, s.otlp.Vendor, envHistograms, otelmetrics.HistogramsClassic)
	}
	return nil
}

// noKeyError is the start-up error for metrics that need scrape tokens
// and no key to verify them: it blames ENABLE_METRICS, the setting that
// asked for them, and names everything that would do.
func noKeyError(lookup env.Lookup) error {
	why := "AUTH_REQUIRED defaults to true"
	if _, set := lookup(envAuthRequired); set {
		why = "AUTH_REQUIRED=true"
	}
	return env.Errorf("ENABLE_METRICS", "true",
		"scrapes need a bearer token (%s) and no key is set to verify one: set %s or %s (HS256/384/512), or %s with %s (RS*, ES*, EdDSA); or set %s=false to serve metrics without authentication",
		why, jwtkeys.EnvSecret, jwtkeys.EnvSecretFile, jwtkeys.EnvPublicKeyPath, jwtkeys.EnvAlgorithm, envAuthRequired)
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
// Variables in environ with a prefix of ours that nothing read are
// reported as warnings, with the nearest known name. When ctx ended (a
// signal) and the load failed, it says nothing and returns exitFail: the
// failure is the signal's doing, which the caller reports.
func loadCommand(ctx context.Context, name, summary string, args []string, stderr io.Writer, lookup env.Lookup, environ []string) (settings, env.Lookup, int, bool) {
	read := map[string]bool{}
	lookup, rename, err := parseOptions(name, summary, args, stderr, recordLookups(lookup, read))
	if err != nil {
		return settings{}, nil, exitCodeOf(err), false
	}
	s, err := loadSettings(ctx, lookup)
	if err != nil && ctx.Err() != nil {
		return settings{}, nil, exitFail, false
	}
	unknown := unknownVariables(environ, read)
	if err != nil {
		for _, w := range unknown {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		fmt.Fprintln(stderr, rename(err))
		return settings{}, nil, exitConfig, false
	}
	s.warnings = append(s.warnings, unknown...)
	s.warnings = append(s.warnings, authWarnings(s.auth, lookup)...)
	s.warnings = append(s.warnings, otlpWarnings(s.otlp, lookup)...)
	s.warnings = append(s.warnings, s.server.warnings...)
	return s, lookup, exitOK, true
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env.Lookup, environ []string) int {
	s, lookup, code, ok := loadCommandInterruptible(ctx, "check", checkSummary, args, stderr, lookup, environ)
	if !ok {
		return code
	}
	printSettings(stdout, settingGroups(s, lookup))
	srv := s.server
	if srv.upstream != nil {
		fmt.Fprintf(stdout, "route templates: %s\n", quoteValue(srv.routeSummary()))
	}
	if srv.openapi != nil {
		report := srv.openapi.table.Conflicts()
		for _, c := range report.First {
			taken := ""
			if c.TakenBy != "" {
				taken = ", which " + c.TakenBy + " takes"
			}
			fmt.Fprintf(stderr, "warning: OpenAPI templates overlap: %s\n", quoteValue(fmt.Sprintf("%s wins over %s (e.g. %s%s)", c.Winner, c.Loser, c.Example, taken)))
		}
		if more := report.Count - len(report.First); more > 0 {
			fmt.Fprintf(stderr, "warning: %d more overlapping OpenAPI template pairs not listed\n", more)
		}
		for _, n := range srv.openapi.notes {
			fmt.Fprintf(stderr, "warning: OpenAPI document: %s\n", quoteValue(n))
		}
	}
	for _, w := range s.warnings {
		fmt.Fprintf(stderr, "warning: %s\n", quoteValue(w))
	}
	return exitOK
}
