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

	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvEnableMetrics    = "ENABLE_METRICS"
	EnvExcludedHandlers = "METRICS_EXCLUDED_HANDLERS"
	EnvNamespace        = "METRICS_NAMESPACE"
	EnvSubsystem        = "METRICS_SUBSYSTEM"
	EnvCustomLabels     = "METRICS_CUSTOM_LABELS"
	EnvLatencyBuckets   = "METRICS_LATENCY_BUCKETS"
	EnvCardinalityLimit = "METRICS_CARDINALITY_LIMIT"
	EnvPrometheusNames  = "METRICS_PROMETHEUS_NAMES"
	EnvBodySizes        = "METRICS_BODY_SIZES"
	EnvExemplars        = "METRICS_EXEMPLARS"
	EnvHistograms       = "METRICS_HISTOGRAMS"
	EnvNativeMaxBuckets = "METRICS_NATIVE_MAX_BUCKETS"
	EnvHost             = "HOST"
	EnvPort             = "PORT"
)

// Limits on METRICS_CUSTOM_LABELS: app_info is meant for a handful of
// low-cardinality deployment facts, not for arbitrary data.
const (
	MaxCustomLabels     = 20
	MaxCustomLabelValue = 128
)

// DefaultCardinalityLimit bounds the series of each instrument.
const DefaultCardinalityLimit = 2000

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
	PrometheusNames string
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
	Histograms       string
	NativeMaxBuckets int
	Host             string
	Port             int
}

// The values of Config.Histograms.
//
// There is no "both" (classic buckets beside the native ones in one
// family, as client_golang can serve): the OTel Prometheus exporter turns
// an exponential histogram into a native-only metric, and one instrument
// has one aggregation per reader, so the endpoint has nothing to take
// classic buckets from without a second histogram per series.
const (
	HistogramsClassic = "classic"
	HistogramsNative  = "native"
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
		CardinalityLimit: DefaultCardinalityLimit,
		PrometheusNames:  string(promexport.NamesInstrumentator),
		Exemplars:        true,
		Histograms:       HistogramsClassic,
		NativeMaxBuckets: buckets.NativeDefault,
		Host:             "127.0.0.1",
		Port:             4444,
	}
}

// Addr is the listen address HOST:PORT.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// ErrInvalidConfig is matched, under errors.Is, by every error of
// ConfigFromEnv and Validate, and by NewProvider's for a Config it cannot
// use.
var ErrInvalidConfig = errors.New("invalid configuration")

// ConfigFromEnv reads the METRICS_*, ENABLE_METRICS, HOST and PORT variables
// through lookup (normally os.LookupEnv). Every bad value is reported, one
// line each naming the variable and the value; the error matches
// ErrInvalidConfig. The former spelling of METRICS_PROMETHEUS_NAMES=instrumentator
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

	c.Enabled, err = env.Bool(l, EnvEnableMetrics, false)
	keep(err)

	c.ExcludedHandlers, err = env.List(l, EnvExcludedHandlers)
	keep(err)
	if err == nil {
		_, err = compileExcluded(c.ExcludedHandlers)
		keep(err)
	}

	c.Namespace = env.String(l, EnvNamespace, c.Namespace)
	c.Subsystem = env.String(l, EnvSubsystem, "")
	if c.Namespace != "" && c.Namespace != "default" {
		if err := semconv.CheckNamePart(c.Namespace); err != nil {
			keep(env.Errorf(EnvNamespace, c.Namespace, "%s", err))
		}
	}
	if c.Subsystem != "" {
		if err := semconv.CheckNamePart(c.Subsystem); err != nil {
			keep(env.Errorf(EnvSubsystem, c.Subsystem, "%s", err))
		}
	}

	c.CustomLabels, err = parseCustomLabels(l)
	keep(err)

	if raw := env.String(l, EnvLatencyBuckets, ""); raw != "" {
		c.LatencyBuckets, err = parseBuckets(raw)
		keep(err)
	}

	c.CardinalityLimit, err = env.Int(l, EnvCardinalityLimit, DefaultCardinalityLimit, 2, 1_000_000)
	keep(err)

	c.PrometheusNames = env.String(l, EnvPrometheusNames, c.PrometheusNames)
	if c.PrometheusNames == formerInstrumentator {
		c.PrometheusNames = string(promexport.NamesInstrumentator)
	}
	if err := checkNames(c.PrometheusNames); err != nil {
		keep(env.Errorf(EnvPrometheusNames, c.PrometheusNames, "%s", err))
	}
	c.BodySizes, err = env.Bool(l, EnvBodySizes, false)
	keep(err)
	c.Exemplars, err = env.Bool(l, EnvExemplars, true)
	keep(err)
	c.Histograms = env.String(l, EnvHistograms, c.Histograms)
	if err := checkHistogramMode(c.Histograms); err != nil {
		keep(env.Errorf(EnvHistograms, c.Histograms, "%s", err))
	}
	c.NativeMaxBuckets, err = env.Int(l, EnvNativeMaxBuckets, c.NativeMaxBuckets, buckets.NativeMin, buckets.NativeMax)
	keep(err)

	c.Host = env.String(l, EnvHost, c.Host)
	c.Port, err = env.Int(l, EnvPort, c.Port, 0, 65535)
	keep(err)

	return c, env.Join(ErrInvalidConfig, errs...)
}

// formerInstrumentator is the earlier spelling of
// METRICS_PROMETHEUS_NAMES=instrumentator, still accepted so that existing
// deployments keep their series; the binary warns about it.
const formerInstrumentator = "seed"

// Settings returns the effective configuration as NAME=value lines, one
// per variable ConfigFromEnv reads and in the order of the constants above,
// as `metricsbridge check` prints them. Values are unquoted; none is secret.
func (c Config) Settings() []string {
	labels := make([]string, len(c.CustomLabels))
	for i, l := range c.CustomLabels {
		labels[i] = l.Key + "=" + l.Value
	}
	buckets := make([]string, len(c.LatencyBuckets))
	for i, b := range c.LatencyBuckets {
		buckets[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return []string{
		EnvEnableMetrics + "=" + strconv.FormatBool(c.Enabled),
		EnvExcludedHandlers + "=" + strings.Join(c.ExcludedHandlers, ","),
		EnvNamespace + "=" + c.Namespace,
		EnvSubsystem + "=" + c.Subsystem,
		EnvCustomLabels + "=" + strings.Join(labels, ","),
		EnvLatencyBuckets + "=" + strings.Join(buckets, ","),
		EnvCardinalityLimit + "=" + strconv.Itoa(c.CardinalityLimit),
		EnvPrometheusNames + "=" + c.PrometheusNames,
		EnvExemplars + "=" + strconv.FormatBool(c.Exemplars),
		EnvBodySizes + "=" + strconv.FormatBool(c.BodySizes),
		EnvHistograms + "=" + c.Histograms,
		EnvNativeMaxBuckets + "=" + strconv.Itoa(c.NativeMaxBuckets),
		EnvHost + "=" + c.Host,
		EnvPort + "=" + strconv.Itoa(c.Port),
	}
}

// Validate checks a Config built in code the same way ConfigFromEnv checks
// the environment.
func (c Config) Validate() error {
	var errs []error
	if _, err := compileExcluded(c.ExcludedHandlers); err != nil {
		errs = append(errs, err)
	}
	if _, err := semconv.Prefix(c.Namespace, c.Subsystem); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	if err := checkNames(c.PrometheusNames); err != nil {
		errs = append(errs, fmt.Errorf("%w: Prometheus names %q: %s", ErrInvalidConfig, c.PrometheusNames, err))
	}
	if err := buckets.Validate(c.LatencyBuckets); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	if err := validateLabels(c.CustomLabels); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, err))
	}
	if err := checkHistogramMode(c.Histograms); err != nil {
		errs = append(errs, fmt.Errorf("%w: histograms %q: %s", ErrInvalidConfig, c.Histograms, err))
	}
	if err := buckets.ValidateNative(c.NativeMaxBuckets); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	if c.CardinalityLimit < 2 {
		errs = append(errs, fmt.Errorf("%w: cardinality limit %d is below 2", ErrInvalidConfig, c.CardinalityLimit))
	}
	return env.Join(ErrInvalidConfig, errs...)
}

func checkNames(n string) error {
	switch promexport.Names(n) {
	case promexport.NamesInstrumentator, promexport.NamesSemconv, promexport.NamesBoth:
		return nil
	}
	return fmt.Errorf("want %s, %s or %s", promexport.NamesInstrumentator, promexport.NamesSemconv, promexport.NamesBoth)
}

func checkHistogramMode(h string) error {
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
			return nil, env.Errorf(EnvExcludedHandlers, strings.Join(patterns, ","), "item %d is not a valid Go regular expression: %s", i+1, reason)
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
		return nil, env.Errorf(EnvExcludedHandlers, strings.Join(patterns, ","), "the items joined into one alternation are not a valid Go regular expression: %s", reason)
	}
	return re, nil
}

// reservedLabels would clash with labels Prometheus or app_info set itself.
var reservedLabels = []string{"version", "job", "instance", "le", "quantile"}

func parseCustomLabels(l env.Lookup) ([]Label, error) {
	raw := env.String(l, EnvCustomLabels, "")
	pairs, err := env.Pairs(EnvCustomLabels, raw, false)
	if err != nil || pairs == nil {
		return nil, err
	}
	labels := make([]Label, len(pairs))
	for i, kv := range pairs {
		labels[i] = Label{Key: kv[0], Value: kv[1]}
	}
	if err := validateLabels(labels); err != nil {
		return nil, env.Errorf(EnvCustomLabels, raw, "%s", err)
	}
	return labels, nil
}

func validateLabels(labels []Label) error {
	if len(labels) > MaxCustomLabels {
		return fmt.Errorf("%d pairs, at most %d allowed", len(labels), MaxCustomLabels)
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
		case len(lb.Value) > MaxCustomLabelValue:
			return fmt.Errorf("value of %q is %d bytes, at most %d allowed", lb.Key, len(lb.Value), MaxCustomLabelValue)
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
		return nil, env.Errorf(EnvLatencyBuckets, truncate(raw, 64), "%d boundaries: at most %d are accepted", n, buckets.Max)
	}
	parts := strings.Split(raw, ",")
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "_") {
			// ParseFloat takes Go's digit separators: 1_000 would be a
			// thousand seconds where a typo for 1,000 (two boundaries)
			// or 1.000 is as likely.
			return nil, env.Errorf(EnvLatencyBuckets, raw, "%q: digit separators (_) are not accepted; want plain decimal seconds like 0.1,0.5,1", p)
		}
		f, err := strconv.ParseFloat(p, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, env.Errorf(EnvLatencyBuckets, raw, "%q is out of range for a 64-bit float; want ascending positive seconds like 0.1,0.5,1", p)
		}
		if err != nil {
			return nil, env.Errorf(EnvLatencyBuckets, raw, "%q is not a number; want ascending positive seconds like 0.1,0.5,1", p)
		}
		out = append(out, f)
	}
	if err := buckets.Validate(out); err != nil {
		return nil, env.Errorf(EnvLatencyBuckets, raw, "%s", strings.TrimPrefix(err.Error(), buckets.ErrInvalid.Error()+": "))
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
