package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
	"github.com/metricsbridge/metricsbridge/promexport"
	"github.com/metricsbridge/metricsbridge/views"

	"github.com/metricsbridge/metricsbridge/internal/derived"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// scopeName is the instrumentation scope of every metricsbridge instrument.
const scopeName = "github.com/metricsbridge/metricsbridge/otelmetrics"

type options struct {
	noUnroutedWarning bool
	logger            *slog.Logger
	version           string
	readers           []sdkmetric.Reader
	res               *resource.Resource
}

// Option configures NewProvider.
type Option interface{ apply(options) options }

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// WithLogger sets the logger for overflow warnings and exporter errors; by
// default, slog.Default(). A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options {
		if l != nil {
			o.logger = l
		}
		return o
	})
}

// WithoutUnroutedWarning leaves out the start-up-time hint that requests
// keep arriving without a route template. A proxy whose route list covers
// only some of its upstream's paths wants that; the count in
// metricsbridge_unrouted_requests_total is kept either way.
func WithoutUnroutedWarning() Option {
	return optionFunc(func(o options) options { o.noUnroutedWarning = true; return o })
}

// WithVersion sets app_info's version label; the default is the main
// module's version from the build information.
func WithVersion(v string) Option {
	return optionFunc(func(o options) options { o.version = v; return o })
}

// WithReader adds a reader (an OTLP PeriodicReader, say) beside the
// Prometheus one, so the same measurements are pushed as well. A nil
// reader adds nothing. The reader of a collector.Pusher for
// collector.VendorPrometheus pushes the scrape endpoint's series instead
// (built for it even when Config.Enabled is false, which keeps the endpoint
// answering 503), from a MeterProvider of its own with the same resource.
func WithReader(r sdkmetric.Reader) Option {
	return optionFunc(func(o options) options {
		if r != nil {
			o.readers = append(o.readers, r)
		}
		return o
	})
}

// WithResource sets the resource pushed readers report (service.name and
// the like). The scrape endpoint does not show it: it has no target_info.
// A nil resource keeps the default, the SDK's.
func WithResource(r *resource.Resource) Option {
	return optionFunc(func(o options) options { o.res = r; return o })
}

// Provider owns the MeterProvider, the scrape endpoint and the instruments.
type Provider struct {
	mp       *sdkmetric.MeterProvider
	exporter *promexport.Exporter
	serve    bool // the exporter serves scrapes (Config.Enabled)
	// pushed are the providers of readers that push the scrape's series
	// (internal/derived), each with the resource and no instruments.
	pushed []*sdkmetric.MeterProvider
	inst   *instruments
	dash   *dashboard.Dashboard // nil when metrics are disabled
}

// NewProvider validates cfg and builds the pipeline. With cfg.Enabled false
// there is no Prometheus reader at all, so recording costs next to nothing
// unless another reader was added with WithReader.
func NewProvider(cfg Config, opts ...Option) (*Provider, error) {
	o := options{logger: slog.Default(), version: buildVersion()}
	for _, opt := range opts {
		o = opt.apply(o)
	}
	ownErr := cfg.validate()

	infoKeys := make([]string, len(cfg.CustomLabels))
	for i, l := range cfg.CustomLabels {
		infoKeys[i] = l.Key
	}
	native := 0
	if cfg.Histograms == HistogramsNative {
		native = cfg.NativeMaxBuckets
	}
	vs, err := views.New(
		views.WithNativeHistograms(native),
		views.WithNamespace(cfg.Namespace),
		views.WithSubsystem(cfg.Subsystem),
		views.WithBuckets(cfg.LatencyBuckets),
		views.WithInfoLabels(infoKeys...),
		views.WithBodySizes(cfg.BodySizes),
		views.WithTrustedScope(scopeName),
	)
	if err := errors.Join(ownErr, err); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	excluded := newExcluder(cfg.ExcludedHandlers) // validated above

	p := &Provider{}
	// The SDK's default filter, made explicit: OTEL_METRICS_EXEMPLAR_FILTER
	// is not how this is configured here.
	filter := exemplar.TraceBasedFilter
	if !cfg.Exemplars {
		filter = exemplar.AlwaysOffFilter
	}
	mpOpts := []sdkmetric.Option{
		sdkmetric.WithView(vs...),
		sdkmetric.WithCardinalityLimit(cfg.CardinalityLimit),
		sdkmetric.WithExemplarFilter(filter),
	}
	var sinks []derived.Sink
	for _, r := range o.readers {
		if s, ok := r.(derived.Sink); ok {
			sinks = append(sinks, s)
			continue
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	// A reader pushing the scrape's series needs the endpoint's
	// translation even where nothing scrapes it.
	if cfg.Enabled || len(sinks) > 0 {
		p.exporter, err = promexport.New(
			promexport.WithLogger(o.logger),
			promexport.WithNames(cfg.PrometheusNames),
			promexport.WithNativeMaxBuckets(cfg.NativeMaxBuckets),
			promexport.WithPrefix(cfg.Namespace, cfg.Subsystem),
			promexport.WithBuckets(cfg.LatencyBuckets))
		if err != nil {
			return nil, fmt.Errorf("otelmetrics: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(p.exporter.Reader()))
		p.serve = cfg.Enabled
		if cfg.Enabled && cfg.Dashboard.Enabled {
			// The dashboard reads the scrape endpoint's reader: a reader
			// of its own would double the work of every measurement.
			p.dash, err = dashboard.New(p.exporter.Reader(), cfg.Dashboard, dashboard.WithLogger(o.logger))
			if err != nil {
				return nil, fmt.Errorf("otelmetrics: %w", err)
			}
		}
	}
	res, err := withCustomLabels(o.res, cfg.CustomLabels)
	if err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	} else if res != nil {
		mpOpts = append(mpOpts, sdkmetric.WithResource(res))
	}
	p.mp = sdkmetric.NewMeterProvider(mpOpts...)

	p.inst, err = newInstruments(p.mp.Meter(scopeName), cfg, o, excluded)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("otelmetrics: %w", err), p.mp.Shutdown(context.Background()))
	}
	for _, s := range sinks {
		s.UseDerived(p.exporter.Reader().(derived.Source).DerivedProducer())
		opts := []sdkmetric.Option{sdkmetric.WithReader(s)}
		if res != nil {
			opts = append(opts, sdkmetric.WithResource(res))
		}
		p.pushed = append(p.pushed, sdkmetric.NewMeterProvider(opts...))
	}
	return p, nil
}

// MeterProvider exposes the SDK provider for instruments of the caller's own;
// they pass through the same readers.
func (p *Provider) MeterProvider() *sdkmetric.MeterProvider { return p.mp }

// Filter reports whether a request is to be recorded, by
// METRICS_EXCLUDED_HANDLERS against its raw path, with the signature of
// otelhttp.Filter, so a service instrumented with otelhttp leaves out the
// same requests as the bridge's middleware:
//
//	otelhttp.NewHandler(mux, "svc", otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter()))
//
// otelhttp applies filters before the request is routed, so a pattern that
// only matches a route template (and not the raw path) excludes requests
// from the bridge's middleware alone.
func (p *Provider) Filter() func(*http.Request) bool {
	re := p.inst.excluded
	return func(r *http.Request) bool { return re == nil || !re.MatchString(r.URL.Path) }
}

// MetricsHandler serves the Prometheus endpoint, or 503 with a JSON body
// when metrics are disabled. Authentication wraps it from outside.
func (p *Provider) MetricsHandler() http.Handler {
	if !p.serve {
		return promexport.Disabled()
	}
	return p.exporter
}

// DashboardHandler serves the page that draws the Python gateway's five
// panels from SummaryHandler's JSON; mount it at "GET /metrics/dashboard"
// and "GET /metrics/dashboard/" (its script and style sheet), beside the
// summary at "GET /metrics/summary". The page holds no data, so it needs no
// token: it asks for one and sends it to the summary.
func (p *Provider) DashboardHandler() http.Handler { return dashboard.PageHandler() }

// SummaryHandler serves the dashboard's JSON (dashboard.Summary), or 503
// with the scrape endpoint's body when metrics or the dashboard
// (Config.Dashboard.Enabled) are disabled. The first call
// starts the snapshots, taken off the request path until Shutdown.
// Authentication wraps it from outside.
func (p *Provider) SummaryHandler() http.Handler {
	if p.dash == nil {
		return promexport.Disabled()
	}
	p.dash.Start()
	return p.dash.SummaryHandler()
}

// ForceFlush pushes pending measurements through every push reader.
func (p *Provider) ForceFlush(ctx context.Context) error {
	errs := []error{p.mp.ForceFlush(ctx)}
	for _, mp := range p.pushed {
		errs = append(errs, mp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown flushes and stops every reader. Record calls after it are
// no-ops, and the metrics endpoint answers 503.
func (p *Provider) Shutdown(ctx context.Context) error {
	// Pushers of the scrape's series first: their last export collects
	// through the endpoint's reader, which p.mp shuts down.
	var errs []error
	for _, mp := range p.pushed {
		errs = append(errs, mp.Shutdown(ctx))
	}
	if p.dash != nil {
		p.dash.Stop()
	}
	if p.exporter != nil {
		errs = append(errs, p.exporter.Shutdown(ctx))
	}
	return errors.Join(append(errs, p.mp.Shutdown(ctx))...)
}

// withCustomLabels adds METRICS_CUSTOM_LABELS to the resource pushed
// readers report, so OTLP destinations see the deployment facts app_info
// carries on the scrape. The resource's own attributes (OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) win over a custom label of the same key.
func withCustomLabels(res *resource.Resource, labels []Label) (*resource.Resource, error) {
	if len(labels) == 0 {
		return res, nil
	}
	kvs := make([]attribute.KeyValue, len(labels))
	for i, l := range labels {
		kvs[i] = attribute.String(l.Key, l.Value)
	}
	if res == nil {
		res = resource.Default()
	}
	return resource.Merge(resource.NewSchemaless(kvs...), res)
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// instruments are created once per Provider and shared by every middleware
// built from it, together with the attribute-set cache.
type instruments struct {
	duration metric.Float64Histogram
	active   *inFlight // nil unless Config.InProgress
	excluded *excluder
	cache    *seriesCache

	unroutedCount atomic.Int64
	unroutedHint  func() // logs once, or nil
}

// unroutedWarnAfter is how many requests without a route must arrive
// before the hint is logged: one could be a handler outside any router.
const unroutedWarnAfter = 10

// unrouted counts a request a handler answered with no route known.
func (in *instruments) unrouted() {
	if n := in.unroutedCount.Add(1); n == unroutedWarnAfter && in.unroutedHint != nil {
		in.unroutedHint()
	}
}

func newInstruments(m metric.Meter, cfg Config, o options, excluded *excluder) (*instruments, error) {
	in := &instruments{excluded: excluded}
	var err error
	// The stable semantic convention, so that OTLP destinations' service
	// views read it, and so that otelhttp and otelgin given this provider
	// feed the same series.
	in.duration, err = m.Float64Histogram(mbsemconv.InstrumentHTTPServerDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(cfg.LatencyBuckets...))
	if err != nil {
		return nil, err
	}

	if cfg.InProgress {
		if in.active, err = newInFlight(m); err != nil {
			return nil, err
		}
	}

	// The SDK decides what overflows; the scrape endpoint reports it.
	in.cache = newSeriesCache(cfg.CardinalityLimit, excluded)

	if !o.noUnroutedWarning {
		in.unroutedHint = func() {
			o.logger.Warn("requests keep arriving with no route template: they are labelled handler=\"none\". "+
				"Wrap an http.ServeMux in otelmetrics.RoutePattern when handlers between it and the middleware copy the request, "+
				"or call otelmetrics.SetRoute from the router's hook (chi, gorilla/mux, echo, gin: see the examples)",
				"requests", unroutedWarnAfter)
		}
	}
	_, err = m.Int64ObservableCounter(mbsemconv.InstrumentUnrouted,
		metric.WithUnit("{request}"),
		metric.WithInt64Callback(func(_ context.Context, obs metric.Int64Observer) error {
			obs.Observe(in.unroutedCount.Load())
			return nil
		}))
	if err != nil {
		return nil, err
	}

	kvs := []attribute.KeyValue{mbsemconv.KeyVersion.String(o.version)}
	for _, l := range cfg.CustomLabels {
		kvs = append(kvs, attribute.String(l.Key, l.Value))
	}
	info := metric.WithAttributeSet(attribute.NewSet(kvs...))
	_, err = m.Int64ObservableGauge(mbsemconv.InstrumentInfo,
		metric.WithDescription("Build and deployment information."),
		metric.WithInt64Callback(func(_ context.Context, obs metric.Int64Observer) error {
			obs.Observe(1, info)
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return in, nil
}
