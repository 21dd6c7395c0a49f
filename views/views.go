package views

import (
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/buckets"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// ErrConfig is wrapped by every error New returns; it is the module's one
// configuration sentinel, metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

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

// WithBuckets sets the latency boundaries in seconds: 1 to 128 of them,
// positive, finite and strictly increasing. By default they are 0.005, 0.01,
// 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 and 10, which contain the documented
// 0.1, 0.5 and 1 so the usual histogram_quantile queries work. The last use
// wins.
func WithBuckets(b []float64) Option {
	return optionFunc(func(c config) config { c.buckets = slices.Clone(b); return c })
}

// WithNativeHistograms aggregates http.server.request.duration as a base-2
// exponential histogram of at most maxBuckets buckets per sign instead of
// explicit buckets: the SDK picks the finest scale (up to 20) that fits the
// recorded range into maxBuckets, and OTLP readers push it as an
// exponential histogram. The Prometheus endpoint serves it as a native
// histogram (package promexport). maxBuckets must be within [8, 4096];
// 160 is the SDK's default and client_golang's usual limit.
//
// By default, and with maxBuckets 0, the histogram has the explicit
// buckets of WithBuckets. The last use wins.
func WithNativeHistograms(maxBuckets int) Option {
	return optionFunc(func(c config) config { c.native = maxBuckets; return c })
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
// route and status that the usual HTTP dashboards never read.
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
// set the bucket boundaries and the attribute allow-list. The series
// http_requests_total and http_request_duration_seconds are derived at the
// scrape endpoint (package promexport), from the one histogram.
func New(opts ...Option) ([]sdkmetric.View, error) {
	c := config{buckets: buckets.Default()}
	for _, o := range opts {
		c = o.apply(c)
	}
	prefix, err := mbsemconv.Prefix(c.namespace, c.subsystem)
	if err != nil {
		return nil, fmt.Errorf("views: %w: %w", ErrConfig, err)
	}
	if err := buckets.Validate(c.buckets); err != nil {
		return nil, fmt.Errorf("views: %w: %w", ErrConfig, err)
	}
	httpAttrs := attribute.NewAllowKeysFilter(mbsemconv.HTTPServerKeys[:]...)
	bodySize := sdkmetric.Stream{AttributeFilter: httpAttrs, ExemplarReservoirProviderSelector: lazyExemplarReservoirs}
	if !c.bodySizes {
		bodySize = sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}
	}
	infoKeys := append([]attribute.Key{mbsemconv.KeyVersion}, c.infoKeys...)
	var agg sdkmetric.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: c.buckets}
	if c.native != 0 {
		if err := buckets.ValidateNative(c.native); err != nil {
			return nil, fmt.Errorf("views: %w: %w", ErrConfig, err)
		}
		agg = sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: int32(c.native), MaxScale: 20}
	}
	filtered := view(mbsemconv.InstrumentHTTPServerDuration, sdkmetric.Stream{AttributeFilter: httpAttrs, Aggregation: agg, ExemplarReservoirProviderSelector: lazyExemplarReservoirs})
	unfiltered := view(mbsemconv.InstrumentHTTPServerDuration, sdkmetric.Stream{Aggregation: agg, ExemplarReservoirProviderSelector: lazyExemplarReservoirs})
	duration := func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		if c.trusted != "" && i.Scope.Name == c.trusted {
			return unfiltered(i)
		}
		return filtered(i)
	}
	return []sdkmetric.View{
		duration,
		view(mbsemconv.InstrumentHTTPServerRequestBodySize, bodySize),
		view(mbsemconv.InstrumentHTTPServerResponseBodySize, bodySize),
		// Only the attributes the conventions require: server.address and
		// server.port, which they allow, would split the count by every
		// name the server is reached by.
		view(mbsemconv.InstrumentHTTPServerActive, sdkmetric.Stream{
			AttributeFilter: attribute.NewAllowKeysFilter(mbsemconv.KeyHTTPMethod, mbsemconv.KeyURLScheme),
		}),
		view(mbsemconv.InstrumentInfo, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameInfo,
			Description:     "Static build and deployment information; always 1.",
			AttributeFilter: attribute.NewAllowKeysFilter(infoKeys...),
		}),
		view(mbsemconv.InstrumentAuthFailures, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameAuth,
			Description:     "Scrapes of the metrics endpoint refused by authentication, by reason.",
			Unit:            "{request}",
			AttributeFilter: attribute.NewAllowKeysFilter(mbsemconv.KeyReason),
		}),
		view(mbsemconv.InstrumentUnrouted, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameUnrouted,
			Description:     "Requests a handler answered (not 404, 405 or a redirect) with no route template known: the route hook is missing.",
			Unit:            "{request}",
			AttributeFilter: attribute.NewAllowKeysFilter(),
		}),
		view(mbsemconv.InstrumentOTLPExports, sdkmetric.Stream{
			Name:            prefix + mbsemconv.NameExports,
			Description:     "OTLP exports by result: success, partial (the destination rejected some data points) or failure.",
			Unit:            "{export}",
			AttributeFilter: attribute.NewAllowKeysFilter(mbsemconv.KeyResult),
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
