package views

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Names of the instruments metricsbridge creates through the meter API. The
// views below match on these exact names.
const (
	InstrumentRequests       = "metricsbridge.http.server.requests"
	InstrumentDuration       = "metricsbridge.http.server.request.duration"
	InstrumentInfo           = "metricsbridge.app.info"
	InstrumentSeriesOverflow = "metricsbridge.series.overflow"
	InstrumentAuthFailures   = "metricsbridge.auth.failures"
	InstrumentOTLPExports    = "metricsbridge.otlp.exports"
)

// Attribute keys recorded on the HTTP instruments. They are already the
// Prometheus label names, because a view can filter attributes but not
// rename them.
const (
	KeyMethod  = attribute.Key("method")
	KeyHandler = attribute.Key("handler")
	KeyStatus  = attribute.Key("status")
	KeyVersion = attribute.Key("version")
	// KeyReason says why the metrics endpoint refused a scrape.
	KeyReason = attribute.Key("reason")
	// KeyResult is "success", "partial" or "failure" on the OTLP export counter.
	KeyResult = attribute.Key("result")
	// KeyOverflow marks the one series that collects label sets beyond the
	// cardinality limit, as the SDK does for synchronous instruments.
	KeyOverflow = attribute.Key("otel.metric.overflow")
)

// Exported stream names, before the prefix. The Prometheus exporter appends
// "_total" to counters and "_seconds" to histograms in unit "s".
const (
	nameRequests = "http_requests"
	nameDuration = "http_request_duration"
	nameInfo     = "app_info"
	nameOverflow = "metricsbridge_series_overflow"
	nameAuth     = "metricsbridge_auth_failures"
	nameExports  = "metricsbridge_otlp_exports"
)

// DefaultBuckets are the latency boundaries in seconds. They contain the
// documented 0.1, 0.5 and 1 so the usual histogram_quantile queries work.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// ErrInvalid is wrapped by every error New returns.
var ErrInvalid = errors.New("views: invalid setting")

type config struct {
	namespace string
	subsystem string
	buckets   []float64
	infoKeys  []attribute.Key
}

// Option configures New.
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithNamespace sets the first part of the name prefix. "" and "default"
// mean no prefix, so the documented queries work unchanged.
func WithNamespace(ns string) Option {
	return optionFunc(func(c config) config { c.namespace = ns; return c })
}

// WithSubsystem sets the second part of the name prefix.
func WithSubsystem(sub string) Option {
	return optionFunc(func(c config) config { c.subsystem = sub; return c })
}

// WithBuckets replaces DefaultBuckets. The boundaries must be positive,
// finite and strictly increasing.
func WithBuckets(b []float64) Option {
	return optionFunc(func(c config) config { c.buckets = slices.Clone(b); return c })
}

// WithInfoLabels lets these keys through to app_info besides "version".
func WithInfoLabels(keys ...string) Option {
	return optionFunc(func(c config) config {
		for _, k := range keys {
			c.infoKeys = append(c.infoKeys, attribute.Key(k))
		}
		return c
	})
}

// New returns the views for the metricsbridge instruments.
func New(opts ...Option) ([]sdkmetric.View, error) {
	c := config{buckets: DefaultBuckets}
	for _, o := range opts {
		c = o.apply(c)
	}
	prefix, err := Prefix(c.namespace, c.subsystem)
	if err != nil {
		return nil, err
	}
	if err := ValidateBuckets(c.buckets); err != nil {
		return nil, err
	}
	infoKeys := append([]attribute.Key{KeyVersion}, c.infoKeys...)
	return []sdkmetric.View{
		view(InstrumentRequests, sdkmetric.Stream{
			Name:            prefix + nameRequests,
			Description:     "Total HTTP requests by method, route template and status code.",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyMethod, KeyHandler, KeyStatus, KeyOverflow),
		}),
		view(InstrumentDuration, sdkmetric.Stream{
			Name:            prefix + nameDuration,
			Description:     "HTTP request latency in seconds by method and route template.",
			Unit:            "s",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyMethod, KeyHandler),
			Aggregation:     sdkmetric.AggregationExplicitBucketHistogram{Boundaries: c.buckets},
		}),
		view(InstrumentInfo, sdkmetric.Stream{
			Name:            prefix + nameInfo,
			Description:     "Static build and deployment information; always 1.",
			AttributeFilter: attribute.NewAllowKeysFilter(infoKeys...),
		}),
		view(InstrumentSeriesOverflow, sdkmetric.Stream{
			Name:            prefix + nameOverflow,
			Description:     "Requests recorded into the overflow series because the series limit was reached.",
			AttributeFilter: attribute.NewAllowKeysFilter(),
		}),
		view(InstrumentAuthFailures, sdkmetric.Stream{
			Name:            prefix + nameAuth,
			Description:     "Scrapes of the metrics endpoint refused by authentication, by reason.",
			Unit:            "{request}",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyReason),
		}),
		view(InstrumentOTLPExports, sdkmetric.Stream{
			Name:            prefix + nameExports,
			Description:     "OTLP exports by result: success, partial (the destination rejected some data points) or failure.",
			Unit:            "{export}",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyResult),
		}),
	}, nil
}

// view matches one instrument by exact name and replaces its stream. The
// scope is not matched so the views also apply when a caller hands the
// middleware a meter of its own.
func view(instrument string, s sdkmetric.Stream) sdkmetric.View {
	return sdkmetric.NewView(sdkmetric.Instrument{Name: instrument}, s)
}

// Prefix returns "<ns>_<sub>_" for the given namespace and subsystem, where
// a namespace of "" or "default" contributes nothing.
func Prefix(namespace, subsystem string) (string, error) {
	var parts []string
	for _, p := range []struct{ what, v string }{{"namespace", namespace}, {"subsystem", subsystem}} {
		if p.v == "" || (p.what == "namespace" && p.v == "default") {
			continue
		}
		if !validNamePart(p.v) {
			return "", fmt.Errorf("%w: %s %q must match [a-zA-Z_][a-zA-Z0-9_]*", ErrInvalid, p.what, p.v)
		}
		parts = append(parts, p.v)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "_") + "_", nil
}

func validNamePart(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// ValidateBuckets reports whether b can be used as histogram boundaries.
func ValidateBuckets(b []float64) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: at least one bucket boundary is required", ErrInvalid)
	}
	for i, v := range b {
		if !(v > 0) || math.IsInf(v, 1) {
			return fmt.Errorf("%w: bucket boundary %g must be a positive finite number", ErrInvalid, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("%w: bucket boundaries must be strictly increasing (%g after %g)", ErrInvalid, v, b[i-1])
		}
	}
	return nil
}
