package otelmetrics

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Environment variables read by ConfigFromEnv, listed in the package
// documentation.
const (
	envEnableMetrics    = "ENABLE_METRICS"
	envExcludedHandlers = "METRICS_EXCLUDED_HANDLERS"
	envNamespace        = "METRICS_NAMESPACE"
	envSubsystem        = "METRICS_SUBSYSTEM"
	envCustomLabels     = "METRICS_CUSTOM_LABELS"
	envLatencyBuckets   = "METRICS_LATENCY_BUCKETS"
	envCardinalityLimit = "METRICS_CARDINALITY_LIMIT"
	envPrometheusNames  = "METRICS_PROMETHEUS_NAMES"
	envBodySizes        = "METRICS_BODY_SIZES"
	envExemplars        = "METRICS_EXEMPLARS"
	envHistograms       = "METRICS_HISTOGRAMS"
	envNativeMaxBuckets = "METRICS_NATIVE_MAX_BUCKETS"
	envInProgress       = "METRICS_IN_PROGRESS"
	envHost             = "HOST"
	envPort             = "PORT"
)

// Limits on METRICS_CUSTOM_LABELS (20 pairs, values of 128 bytes): app_info
// is meant for a handful of low-cardinality deployment facts, not for
// arbitrary data.
const (
	maxCustomLabels     = 20
	maxCustomLabelValue = 128
)

// defaultCardinalityLimit bounds the series of each instrument (2000).
const defaultCardinalityLimit = 2000

// Label is one static app_info label.
type Label struct{ Key, Value string }

// Config is the validated metrics configuration. The zero value is not
// useful; start from DefaultConfig or ConfigFromEnv.
type Config struct {
	// Enabled serves the scrape endpoint; when false it answers 503.
	Enabled bool
	// ExcludedHandlers are Go regular expressions. As in the Python
	// gateway each is an unanchored search: a request is not recorded when
	// one matches its route template or its raw path ("/metrics" also
	// leaves out "/metrics/prometheus"; anchor with ^...$).
	ExcludedHandlers []string
	Namespace        string
	Subsystem        string
	CustomLabels     []Label
	LatencyBuckets   []float64
	CardinalityLimit int
	// PrometheusNames is the form of the HTTP series on the scrape
	// endpoint: "instrumentator" (http_requests_total and
	// http_request_duration_seconds, as prometheus-fastapi-instrumentator
	// names them), "semconv" (the OTel exporter's
	// http_server_request_duration_seconds) or "both".
	PrometheusNames promexport.Names
	// BodySizes keeps the http.server.{request,response}.body.size
	// histograms an instrumentation such as otelhttp records.
	BodySizes bool
	// Exemplars attaches the trace and span of a request whose context
	// holds a sampled span to its duration measurement; OpenMetrics
	// scrapes show them on http_request_duration_seconds_bucket.
	Exemplars bool
	// Histograms is the aggregation of http.server.request.duration:
	// HistogramsClassic (the LatencyBuckets) or HistogramsNative (a base-2
	// exponential histogram of at most NativeMaxBuckets buckets, served
	// as a Prometheus native histogram and pushed as an exponential one).
	Histograms       Histograms
	NativeMaxBuckets int
	// InProgress counts the requests in flight as
	// http.server.active_requests (by http.request.method and url.scheme,
	// as the semantic conventions define it), served on the scrape as
	// http_requests_inprogress{method}. A request is counted from the
	// moment the middleware sees it, before any router has matched it, so
	// the gauge has no handler label. Off by default: the request path
	// then does not touch it.
	InProgress bool
	// Host and Port are where a program built from this configuration
	// listens (HOST, PORT, joined by Addr); the Provider opens no socket.
	Host string
	Port int
	// Dashboard shapes the snapshots behind DashboardHandler and
	// SummaryHandler; with Enabled false SummaryHandler answers 503.
	Dashboard dashboard.Config
}

// Histograms is the aggregation of http.server.request.duration.
type Histograms string

// The values of Config.Histograms.
//
// There is no "both" (classic buckets beside the native ones in one
// family, as client_golang can serve): the OTel Prometheus exporter turns
// an exponential histogram into a native-only metric, and one instrument
// has one aggregation per reader, so the endpoint has nothing to take
// classic buckets from without a second histogram per series.
const (
	HistogramsClassic Histograms = "classic"
	HistogramsNative  Histograms = "native"
)

// DefaultConfig returns a library user's settings: metrics enabled, since
// a program that mounts MetricsHandler wants it to answer, and every other
// field as when no variable is set. ConfigFromEnv starts from it but keeps
// the Python gateway's ENABLE_METRICS default, false, so the binary and
// any service configured by those variables behave as the gateway does.
func DefaultConfig() Config {
	return Config{
		Enabled:          true,
		Namespace:        "default",
		LatencyBuckets:   slices.Clone(buckets.Default()),
		CardinalityLimit: defaultCardinalityLimit,
		PrometheusNames:  promexport.NamesInstrumentator,
		Exemplars:        true,
		Histograms:       HistogramsClassic,
		NativeMaxBuckets: buckets.NativeDefault,
		Host:             "127.0.0.1",
		Port:             4444,
		Dashboard:        dashboard.Config{Enabled: true},
	}
}

// Addr is the listen address HOST:PORT, for a program that serves what the
// Provider measures.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// ErrConfig is matched, under errors.Is, by every error of ConfigFromEnv
// and by NewProvider's for a Config it cannot use. It is the module's one
// configuration sentinel, metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

// ConfigFromEnv reads the METRICS_*, ENABLE_METRICS, HOST and PORT variables
// (the METRICS_DASHBOARD* ones through dashboard.ConfigFromEnv) through lookup (normally os.LookupEnv). Every bad value is reported, one
// line each naming the variable and the value; the error matches
// ErrConfig. The former spelling of METRICS_PROMETHEUS_NAMES=instrumentator
// is read as instrumentator.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	l := env.Lookup(lookup)
	c := DefaultConfig()
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error

	c.Enabled, err = env.Bool(l, envEnableMetrics, false)
	keep(err)

	c.ExcludedHandlers, err = env.List(l, envExcludedHandlers)
	keep(err)
	if err == nil {
		_, err = compileExcluded(c.ExcludedHandlers)
		keep(err)
	}

	c.Namespace = env.String(l, envNamespace, c.Namespace)
	c.Subsystem = env.String(l, envSubsystem, "")
	if c.Namespace != "" && c.Namespace != "default" {
		if err := semconv.CheckNamePart(c.Namespace); err != nil {
			keep(env.Errorf(envNamespace, c.Namespace, "%s", err))
		}
	}
	if c.Subsystem != "" {
		if err := semconv.CheckNamePart(c.Subsystem); err != nil {
			keep(env.Errorf(envSubsystem, c.Subsystem, "%s", err))
		}
	}

	c.CustomLabels, err = parseCustomLabels(l)
	keep(err)

	if raw := env.String(l, envLatencyBuckets, ""); raw != "" {
		c.LatencyBuckets, err = parseBuckets(raw)
		keep(err)
	}

	c.CardinalityLimit, err = env.Int(l, envCardinalityLimit, defaultCardinalityLimit, 2, 1_000_000)
	keep(err)

	c.PrometheusNames = promexport.Names(env.String(l, envPrometheusNames, string(c.PrometheusNames)))
	if c.PrometheusNames == formerInstrumentator {
		c.PrometheusNames = promexport.NamesInstrumentator
	}
	if err := checkNames(c.PrometheusNames); err != nil {
		keep(env.Errorf(envPrometheusNames, string(c.PrometheusNames), "%s", err))
	}
	c.BodySizes, err = env.Bool(l, envBodySizes, false)
	keep(err)
	c.Exemplars, err = env.Bool(l, envExemplars, true)
	keep(err)
	c.Histograms = Histograms(env.String(l, envHistograms, string(c.Histograms)))
	if err := checkHistogramMode(c.Histograms); err != nil {
		keep(env.Errorf(envHistograms, string(c.Histograms), "%s", err))
	}
	c.NativeMaxBuckets, err = env.Int(l, envNativeMaxBuckets, c.NativeMaxBuckets, buckets.NativeMin, buckets.NativeMax)
	keep(err)
	c.InProgress, err = env.Bool(l, envInProgress, false)
	keep(err)

	c.Host = env.String(l, envHost, c.Host)
	c.Port, err = env.Int(l, envPort, c.Port, 0, 65535)
	keep(err)

	c.Dashboard, err = dashboard.ConfigFromEnv(lookup)
	keep(err)

	return c, env.Join(ErrConfig, errs...)
}

// formerInstrumentator is the earlier spelling of
// METRICS_PROMETHEUS_NAMES=instrumentator, still accepted so that existing
// deployments keep their series; the binary warns about it.
const formerInstrumentator promexport.Names = "seed"

// validate checks the settings this package owns, in one pass: the views
// check the name prefix and the buckets, the scrape endpoint the series
// naming, the dashboard its ring, each when NewProvider builds it.
func (c Config) validate() error {
	var errs []error
	if _, err := compileExcluded(c.ExcludedHandlers); err != nil {
		errs = append(errs, err)
	}
	if err := validateLabels(c.CustomLabels); err != nil {
		errs = append(errs, fmt.Errorf("%w: custom labels: %s", ErrConfig, err))
	}
	if err := checkHistogramMode(c.Histograms); err != nil {
		errs = append(errs, fmt.Errorf("%w: histograms %q: %s", ErrConfig, c.Histograms, err))
	}
	if c.CardinalityLimit < 2 {
		errs = append(errs, fmt.Errorf("%w: cardinality limit %d is below 2", ErrConfig, c.CardinalityLimit))
	}
	return errors.Join(errs...)
}

func checkNames(n promexport.Names) error {
	switch n {
	case promexport.NamesInstrumentator, promexport.NamesSemconv, promexport.NamesBoth:
		return nil
	}
	return fmt.Errorf("want %s, %s or %s", promexport.NamesInstrumentator, promexport.NamesSemconv, promexport.NamesBoth)
}

func checkHistogramMode(h Histograms) error {
	switch h {
	case HistogramsClassic, HistogramsNative:
		return nil
	case "both":
		return fmt.Errorf("want %s or %s; both is not offered: the exporter serves an exponential histogram as a native-only family, with no classic buckets to keep beside it", HistogramsClassic, HistogramsNative)
	}
	return fmt.Errorf("want %s or %s", HistogramsClassic, HistogramsNative)
}

// compileExcluded joins the patterns into one alternation, so a request
// pays for one search whatever the list length. Each stays unanchored, as
// the Python gateway's re.search is.
func compileExcluded(patterns []string) (*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	alts := make([]string, len(patterns))
	for i, p := range patterns {
		if _, err := regexp.Compile(p); err != nil {
			var rerr *syntax.Error
			reason := err.Error()
			if errors.As(err, &rerr) {
				reason = fmt.Sprintf("%s in pattern %q", rerr.Code, p)
			}
			return nil, env.Errorf(envExcludedHandlers, strings.Join(patterns, ","), "item %d is not a valid Go regular expression: %s", i+1, reason)
		}
		alts[i] = "(?:" + p + ")"
	}
	// Each item compiles alone, yet the joined expression is two groups
	// deeper and as large as all items together, so it can still exceed
	// the parser's nesting or size limits.
	re, err := regexp.Compile(strings.Join(alts, "|"))
	if err != nil {
		reason := err.Error()
		var rerr *syntax.Error
		if errors.As(err, &rerr) {
			reason = string(rerr.Code)
		}
		return nil, env.Errorf(envExcludedHandlers, strings.Join(patterns, ","), "the items joined into one alternation are not a valid Go regular expression: %s", reason)
	}
	return re, nil
}

// reservedLabels would clash with labels Prometheus or app_info set itself.
var reservedLabels = []string{"version", "job", "instance", "le", "quantile"}

func parseCustomLabels(l env.Lookup) ([]Label, error) {
	raw := env.String(l, envCustomLabels, "")
	pairs, err := env.Pairs(envCustomLabels, raw, false)
	if err != nil || pairs == nil {
		return nil, err
	}
	labels := make([]Label, len(pairs))
	for i, kv := range pairs {
		labels[i] = Label{Key: kv[0], Value: kv[1]}
	}
	if err := validateLabels(labels); err != nil {
		return nil, env.Errorf(envCustomLabels, raw, "%s", err)
	}
	return labels, nil
}

func validateLabels(labels []Label) error {
	if len(labels) > maxCustomLabels {
		return fmt.Errorf("%d pairs, at most %d allowed", len(labels), maxCustomLabels)
	}
	seen := make(map[string]bool, len(labels))
	for _, lb := range labels {
		switch {
		case !validLabelName(lb.Key):
			return fmt.Errorf("key %q is not a label name matching [a-zA-Z_][a-zA-Z0-9_]*", lb.Key)
		case strings.HasPrefix(lb.Key, "__") || slices.Contains(reservedLabels, lb.Key):
			return fmt.Errorf("key %q is reserved (reserved: __*, %s)", lb.Key, strings.Join(reservedLabels, ", "))
		case strings.Contains(lb.Key, "__") || strings.Trim(lb.Key, "_") == "":
			// The exporter collapses repeated underscores and drops a name
			// made of underscores only, with the whole app_info series.
			return fmt.Errorf("key %q has repeated underscores or nothing but underscores, which the exporter would rename or drop", lb.Key)
		case seen[lb.Key]:
			return fmt.Errorf("key %q appears more than once", lb.Key)
		case lb.Value == "":
			return fmt.Errorf("key %q has an empty value", lb.Key)
		case len(lb.Value) > maxCustomLabelValue:
			return fmt.Errorf("value of %q is %d bytes, at most %d allowed", lb.Key, len(lb.Value), maxCustomLabelValue)
		case !utf8.ValidString(lb.Value):
			return fmt.Errorf("value of %q is not valid UTF-8", lb.Key)
		}
		seen[lb.Key] = true
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func parseBuckets(raw string) ([]float64, error) {
	// Counted before anything is parsed, so a huge list costs nothing.
	if n := strings.Count(raw, ",") + 1; n > buckets.Max {
		return nil, env.Errorf(envLatencyBuckets, truncate(raw, 64), "%d boundaries: at most %d are accepted", n, buckets.Max)
	}
	parts := strings.Split(raw, ",")
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "_") {
			// ParseFloat takes Go's digit separators: 1_000 would be a
			// thousand seconds where a typo for 1,000 (two boundaries)
			// or 1.000 is as likely.
			return nil, env.Errorf(envLatencyBuckets, raw, "%q: digit separators (_) are not accepted; want plain decimal seconds like 0.1,0.5,1", p)
		}
		f, err := strconv.ParseFloat(p, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, env.Errorf(envLatencyBuckets, raw, "%q is out of range for a 64-bit float; want ascending positive seconds like 0.1,0.5,1", p)
		}
		if err != nil {
			return nil, env.Errorf(envLatencyBuckets, raw, "%q is not a number; want ascending positive seconds like 0.1,0.5,1", p)
		}
		out = append(out, f)
	}
	if err := buckets.Validate(out); err != nil {
		return nil, env.Errorf(envLatencyBuckets, raw, "%s", strings.TrimPrefix(err.Error(), buckets.ErrInvalid.Error()+": "))
	}
	return out, nil
}

// truncate shortens a long value for an error message, which must stay
// one readable line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
