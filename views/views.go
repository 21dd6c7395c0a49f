package views

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Instrument names, attribute keys and series names: vocabulary rather
// than views, kept in one internal place by the module. These copies stay
// for compatibility until the next major version.
const (
	// Deprecated: InstrumentHTTPServerDuration is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	InstrumentHTTPServerDuration = mbsemconv.InstrumentHTTPServerDuration
	// Deprecated: InstrumentHTTPServerRequestBodySize is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	InstrumentHTTPServerRequestBodySize = mbsemconv.InstrumentHTTPServerRequestBodySize
	// Deprecated: InstrumentHTTPServerResponseBodySize is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	InstrumentHTTPServerResponseBodySize = mbsemconv.InstrumentHTTPServerResponseBodySize
	// Deprecated: InstrumentInfo is metricsbridge vocabulary, not a view; the
	// README lists the names.
	InstrumentInfo = mbsemconv.InstrumentInfo
	// Deprecated: InstrumentAuthFailures is metricsbridge vocabulary, not a view; the
	// README lists the names.
	InstrumentAuthFailures = mbsemconv.InstrumentAuthFailures
	// Deprecated: InstrumentOTLPExports is metricsbridge vocabulary, not a view; the
	// README lists the names.
	InstrumentOTLPExports = mbsemconv.InstrumentOTLPExports
	// Deprecated: InstrumentUnrouted is metricsbridge vocabulary, not a view; the
	// README lists the names.
	InstrumentUnrouted = mbsemconv.InstrumentUnrouted
	// Deprecated: KeyHTTPMethod is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	KeyHTTPMethod = mbsemconv.KeyHTTPMethod
	// Deprecated: KeyHTTPRoute is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	KeyHTTPRoute = mbsemconv.KeyHTTPRoute
	// Deprecated: KeyHTTPStatus is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	KeyHTTPStatus = mbsemconv.KeyHTTPStatus
	// Deprecated: KeyURLScheme is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	KeyURLScheme = mbsemconv.KeyURLScheme
	// Deprecated: KeyErrorType is a name of the OpenTelemetry semantic conventions;
	// use go.opentelemetry.io/otel/semconv.
	KeyErrorType = mbsemconv.KeyErrorType
	// Deprecated: KeyMethod is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyMethod = mbsemconv.KeyMethod
	// Deprecated: KeyHandler is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyHandler = mbsemconv.KeyHandler
	// Deprecated: KeyStatus is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyStatus = mbsemconv.KeyStatus
	// Deprecated: KeyVersion is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyVersion = mbsemconv.KeyVersion
	// Deprecated: KeyReason is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyReason = mbsemconv.KeyReason
	// Deprecated: KeyResult is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyResult = mbsemconv.KeyResult
	// Deprecated: KeyOverflow is metricsbridge vocabulary, not a view; the
	// README lists the names.
	KeyOverflow = mbsemconv.KeyOverflow
	// Deprecated: NameRequests is metricsbridge vocabulary, not a view; the
	// README lists the names.
	NameRequests = mbsemconv.NameRequests
	// Deprecated: NameDuration is metricsbridge vocabulary, not a view; the
	// README lists the names.
	NameDuration = mbsemconv.NameDuration
	// Deprecated: NameOverflow is metricsbridge vocabulary, not a view; the
	// README lists the names.
	NameOverflow = mbsemconv.NameOverflow
)

// DefaultBuckets are the latency boundaries in seconds. They contain the
// documented 0.1, 0.5 and 1 so the usual histogram_quantile queries work.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// HTTPServerKeys are the attributes of http.server.request.duration that
// reach aggregation.
var HTTPServerKeys = []attribute.Key{KeyHTTPMethod, KeyHTTPRoute, KeyHTTPStatus, KeyURLScheme, KeyErrorType}

// ErrInvalid is wrapped by every error New returns.
var ErrInvalid = errors.New("views: invalid setting")

type config struct {
	namespace string
	subsystem string
	buckets   []float64
	native    int // max buckets of the exponential histogram; 0: classic
	infoKeys  []attribute.Key
	bodySizes bool
	trusted   string
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

// WithNativeHistograms aggregates http.server.request.duration as a base-2
// exponential histogram of at most maxBuckets buckets per sign instead of
// explicit buckets: the SDK picks the finest scale (up to 20) that fits the
// recorded range into maxBuckets, and OTLP readers push it as an
// exponential histogram. The Prometheus endpoint serves it as a native
// histogram (package promexport). maxBuckets must be within
// [MinNativeBuckets, MaxNativeBuckets].
//
// By default, and with maxBuckets 0, the histogram has the explicit
// buckets of WithBuckets. The last use wins.
func WithNativeHistograms(maxBuckets int) Option {
	return optionFunc(func(c config) config { c.native = maxBuckets; return c })
}

// Bounds and default of WithNativeHistograms' bucket count. 160 is the
// OpenTelemetry SDK's default and client_golang's usual limit; at the
// top, 4096 buckets hold a millisecond-to-100-second range at Prometheus'
// finest scale, 8, and bound a series to 64 kB. Below 8 the scale would
// fall so low for a wide latency range that Prometheus' lowest scale, -4,
// could not hold it.
const (
	DefaultNativeBuckets = 160
	MinNativeBuckets     = 8
	MaxNativeBuckets     = 4096
)

// ValidateNativeBuckets reports whether n is a valid bucket count for
// WithNativeHistograms.
func ValidateNativeBuckets(n int) error {
	if n < MinNativeBuckets || n > MaxNativeBuckets {
		return fmt.Errorf("%w: native histogram bucket count %d is outside [%d, %d]", ErrInvalid, n, MinNativeBuckets, MaxNativeBuckets)
	}
	return nil
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

// WithBodySizes keeps the request and response body-size histograms that
// otelhttp records. They are dropped by default: two more histograms per
// route and status that the reference gateway's dashboards never read.
func WithBodySizes(keep bool) Option {
	return optionFunc(func(c config) config { c.bodySizes = keep; return c })
}

// WithTrustedScope names an instrumentation scope whose
// http.server.request.duration records only the allowed attributes
// already, as the bridge's middleware does. Its stream skips the attribute
// filter, which the SDK otherwise applies to every measurement: about
// two thirds of the cost of recording one.
func WithTrustedScope(name string) Option {
	return optionFunc(func(c config) config { c.trusted = name; return c })
}

// New returns the views for the HTTP semantic-convention instruments and
// for metricsbridge's own.
//
// The HTTP views keep the instruments' names, units and descriptions, so
// OTLP destinations receive the semantic conventions unchanged; they only
// set the bucket boundaries and the attribute allow-list. The Prometheus
// names of the reference gateway are derived at the scrape endpoint
// (package promexport), from the one histogram.
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
	httpAttrs := attribute.NewAllowKeysFilter(HTTPServerKeys...)
	bodySize := sdkmetric.Stream{AttributeFilter: httpAttrs, ExemplarReservoirProviderSelector: LazyExemplarReservoirs}
	if !c.bodySizes {
		bodySize = sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}
	}
	infoKeys := append([]attribute.Key{KeyVersion}, c.infoKeys...)
	var buckets sdkmetric.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: c.buckets}
	if c.native != 0 {
		if err := ValidateNativeBuckets(c.native); err != nil {
			return nil, err
		}
		buckets = sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: int32(c.native), MaxScale: 20}
	}
	filtered := view(InstrumentHTTPServerDuration, sdkmetric.Stream{AttributeFilter: httpAttrs, Aggregation: buckets, ExemplarReservoirProviderSelector: LazyExemplarReservoirs})
	unfiltered := view(InstrumentHTTPServerDuration, sdkmetric.Stream{Aggregation: buckets, ExemplarReservoirProviderSelector: LazyExemplarReservoirs})
	duration := func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		if c.trusted != "" && i.Scope.Name == c.trusted {
			return unfiltered(i)
		}
		return filtered(i)
	}
	return []sdkmetric.View{
		duration,
		view(InstrumentHTTPServerRequestBodySize, bodySize),
		view(InstrumentHTTPServerResponseBodySize, bodySize),
		view(InstrumentInfo, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameInfo,
			Description:     "Static build and deployment information; always 1.",
			AttributeFilter: attribute.NewAllowKeysFilter(infoKeys...),
		}),
		view(InstrumentAuthFailures, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameAuth,
			Description:     "Scrapes of the metrics endpoint refused by authentication, by reason.",
			Unit:            "{request}",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyReason),
		}),
		view(InstrumentUnrouted, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameUnrouted,
			Description:     "Requests a handler answered (not 404, 405 or a redirect) with no route template known: the route hook is missing.",
			Unit:            "{request}",
			AttributeFilter: attribute.NewAllowKeysFilter(),
		}),
		view(InstrumentOTLPExports, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameExports,
			Description:     "OTLP exports by result: success, partial (the destination rejected some data points) or failure.",
			Unit:            "{export}",
			AttributeFilter: attribute.NewAllowKeysFilter(KeyResult),
		}),
		view(mbsemconv.InstrumentOTLPRejected, sdkmetric.Stream{Name: prefix + mbsemconv.NameRejected, AttributeFilter: attribute.NewAllowKeysFilter()}),
		view(mbsemconv.InstrumentOTLPPending, sdkmetric.Stream{Name: prefix + mbsemconv.NamePending, AttributeFilter: attribute.NewAllowKeysFilter()}),
		view(mbsemconv.InstrumentOTLPDropped, sdkmetric.Stream{Name: prefix + mbsemconv.NameDropped, AttributeFilter: attribute.NewAllowKeysFilter()}),
	}, nil
}

// view matches one instrument by exact name and replaces its stream. The
// scope is not matched, so the views apply to otelhttp's instruments and to
// a meter the caller hands the middleware as much as to the bridge's own.
func view(instrument string, s sdkmetric.Stream) sdkmetric.View {
	return sdkmetric.NewView(sdkmetric.Instrument{Name: instrument}, s)
}

// Prefix returns "<ns>_<sub>_" for the given namespace and subsystem, where
// a namespace of "" or "default" contributes nothing.
//
// A part must be a Prometheus name that the exporter's OTel-to-Prometheus
// translation leaves alone, so the series carry exactly the prefix asked
// for: the translation splits names at underscores and drops empty words,
// removes the word "total" before appending _total to counters, and omits
// the _seconds suffix of a histogram that already has the word "seconds".
func Prefix(namespace, subsystem string) (string, error) {
	var parts []string
	for _, p := range []struct{ what, v string }{{"namespace", namespace}, {"subsystem", subsystem}} {
		if p.v == "" || (p.what == "namespace" && p.v == "default") {
			continue
		}
		if err := CheckNamePart(p.v); err != nil {
			return "", fmt.Errorf("%w: %s %q: %w", ErrInvalid, p.what, p.v, err)
		}
		parts = append(parts, p.v)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "_") + "_", nil
}

// Reasons CheckNamePart gives.
var (
	errNameSyntax      = errors.New("want a name matching [a-zA-Z_][a-zA-Z0-9_]*")
	errNameUnderscores = errors.New("leading, trailing or repeated underscores would be collapsed in the series names; separate words with single underscores")
)

// CheckNamePart reports why v cannot be a namespace or subsystem, or nil.
func CheckNamePart(v string) error {
	if !validNamePart(v) {
		return errNameSyntax
	}
	if strings.HasPrefix(v, "_") || strings.HasSuffix(v, "_") || strings.Contains(v, "__") {
		return errNameUnderscores
	}
	for _, word := range strings.Split(v, "_") {
		if word == "total" || word == "seconds" {
			return fmt.Errorf("the word %q would be removed from or change the series names", word)
		}
	}
	return nil
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

// RouteTemplate turns a ServeMux pattern, "[METHOD ][HOST]/path", into the
// value of http.route: its path.
//
// Deprecated: use routes.Template (package otelmetrics/routes), which
// gives the same answer.
func RouteTemplate(pattern string) string { return mbsemconv.Route(pattern) }

// MaxBuckets bounds the bucket boundaries of a histogram. Each boundary is
// one more series per label set on every scrape; dashboards use a dozen or
// two, and 128 leaves room without letting a typo multiply the series.
const MaxBuckets = 128

// ValidateBuckets reports whether b can be used as histogram boundaries:
// 1 to MaxBuckets of them, positive, finite and strictly increasing.
func ValidateBuckets(b []float64) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: at least one bucket boundary is required", ErrInvalid)
	}
	if len(b) > MaxBuckets {
		return fmt.Errorf("%w: %d bucket boundaries: at most %d are accepted", ErrInvalid, len(b), MaxBuckets)
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
