package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metricsbridge/metricsbridge/views"
)

// ScopeName is the instrumentation scope of the export self-metric.
const ScopeName = "github.com/metricsbridge/metricsbridge/collector"

// logEvery is how often a persisting export failure is logged again.
const logEvery = time.Minute

type options struct {
	logger  *slog.Logger
	backoff time.Duration
	client  *http.Client
}

// Option configures a Pusher.
type Option interface{ apply(options) options }

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// WithLogger sets where export failures and recoveries are logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options { o.logger = l; return o })
}

// WithBackoff sets the first wait before retrying a refused connection;
// later waits double, up to 5 s, within the export timeout.
func WithBackoff(d time.Duration) Option {
	return optionFunc(func(o options) options { o.backoff = d; return o })
}

// WithHTTPClient sets the client for http/protobuf exports: a proxy, a
// private CA or a test listener standing in for the vendor's host.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o options) options { o.client = c; return o })
}

// Pusher pushes the MeterProvider's instruments over OTLP on an interval.
type Pusher struct {
	cfg    Config
	exp    *exporter
	reader *sdkmetric.PeriodicReader
}

// New builds the OTLP exporter cfg describes and a periodic reader over it.
// Add Reader() to the MeterProvider; shutting the provider down pushes a
// final export.
func New(ctx context.Context, cfg Config, opts ...Option) (*Pusher, error) {
	o := options{logger: slog.Default(), backoff: 250 * time.Millisecond}
	for _, opt := range opts {
		o = opt.apply(o)
	}
	inner, err := newOTLPExporter(ctx, cfg, o)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	e := &exporter{
		inner:   inner,
		delta:   cfg.Temporality == Delta || cfg.Temporality == LowMemory,
		acked:   map[seriesKey]acked{},
		logger:  o.logger.With("url", cfg.URL),
		backoff: o.backoff,
	}
	ropts := []sdkmetric.PeriodicReaderOption{
		sdkmetric.WithInterval(cfg.Interval),
		sdkmetric.WithTimeout(cfg.ExportTimeout),
	}
	if cfg.MaxBatch > 0 {
		ropts = append(ropts, sdkmetric.WithMaxExportBatchSize(cfg.MaxBatch))
	}
	return &Pusher{cfg: cfg, exp: e, reader: sdkmetric.NewPeriodicReader(e, ropts...)}, nil
}

func newOTLPExporter(ctx context.Context, cfg Config, o options) (sdkmetric.Exporter, error) {
	// Options are explicit so that what check printed is what is used; they
	// take precedence over the variables the exporters read themselves.
	if cfg.Protocol == ProtocolGRPC {
		opts := []otlpmetricgrpc.Option{
			// gRPC's reconnect back-off grows to two minutes by default;
			// capped here so a restarted collector is found within the
			// export interval.
			otlpmetricgrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			})),
			// Our loop retries Unavailable with shorter waits than the
			// exporter's (5 s first), which would eat a short export
			// timeout in one sleep.
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}),
			otlpmetricgrpc.WithEndpointURL(cfg.URL),
			otlpmetricgrpc.WithHeaders(cfg.Headers),
			otlpmetricgrpc.WithTimeout(cfg.Timeout),
		}
		if cfg.Compression == "gzip" {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	compression := otlpmetrichttp.NoCompression
	if cfg.Compression == "gzip" {
		compression = otlpmetrichttp.GzipCompression
	}
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(cfg.URL),
		otlpmetrichttp.WithHeaders(cfg.Headers),
		otlpmetrichttp.WithCompression(compression),
		otlpmetrichttp.WithTimeout(cfg.Timeout),
	}
	if o.client != nil {
		opts = append(opts, otlpmetrichttp.WithHTTPClient(o.client))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

// Reader is the periodic reader to register with the MeterProvider.
func (p *Pusher) Reader() sdkmetric.Reader { return p.reader }

// Config returns the configuration the Pusher was built from.
func (p *Pusher) Config() Config { return p.cfg }

// RegisterMetrics adds metricsbridge_otlp_exports_total{result} to mp. It
// is separate from New because the reader must exist before the provider.
func (p *Pusher) RegisterMetrics(mp metric.MeterProvider) error {
	ok := metric.WithAttributeSet(attribute.NewSet(views.KeyResult.String("success")))
	failed := metric.WithAttributeSet(attribute.NewSet(views.KeyResult.String("failure")))
	_, err := mp.Meter(ScopeName).Int64ObservableCounter(views.InstrumentOTLPExports,
		metric.WithDescription("OTLP exports by result; a failed export is retried in the next interval."),
		metric.WithUnit("{export}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(p.exp.successes.Load(), ok)
			o.Observe(p.exp.failures.Load(), failed)
			return nil
		}))
	return err
}

// Stats returns how many exports succeeded and failed so far.
func (p *Pusher) Stats() (successes, failures int64) {
	return p.exp.successes.Load(), p.exp.failures.Load()
}

// exporter wraps the OTLP exporter. It asks the SDK for cumulative data
// and, when the destination wants delta, subtracts what the destination
// last acknowledged. A failed export therefore loses nothing: its counts
// are part of the next successful delta. Memory is one entry per series,
// which the cardinality limit bounds.
type exporter struct {
	inner   sdkmetric.Exporter
	delta   bool
	backoff time.Duration

	// mu serialises exports (the reader may export from Shutdown while a
	// periodic export runs) and guards acked and the failure log state.
	mu           sync.Mutex
	acked        map[seriesKey]acked
	failingSince time.Time
	lastLog      time.Time
	failedInRow  int
	logger       *slog.Logger

	successes, failures atomic.Int64
}

type seriesKey struct {
	scope, name string
	attrs       attribute.Distinct
}

// acked is the cumulative state the destination has received for a series.
type acked struct {
	time    time.Time
	start   time.Time
	i       int64
	f       float64
	count   uint64
	buckets []uint64
}

func (e *exporter) Temporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.CumulativeTemporality
}

func (e *exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return e.inner.Aggregation(k)
}

func (e *exporter) ForceFlush(ctx context.Context) error { return e.inner.ForceFlush(ctx) }

func (e *exporter) Shutdown(ctx context.Context) error { return e.inner.Shutdown(ctx) }

func (e *exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	out, pending := rm, map[seriesKey]acked(nil)
	if e.delta {
		out, pending = e.toDelta(rm)
	}
	err := e.exportRetrying(ctx, out)
	e.report(err)
	if err != nil {
		return err
	}
	for k, v := range pending {
		e.acked[k] = v
	}
	return nil
}

// exportRetrying retries refused and reset connections, which the OTLP
// exporters give up on at once, with doubling waits until ctx ends.
func (e *exporter) exportRetrying(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	wait := e.backoff
	for {
		err := e.inner.Export(ctx, rm)
		if err == nil || !retryable(err) {
			return err
		}
		// Jitter keeps a fleet from reconnecting in lockstep.
		d := wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func retryable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	// gRPC reports a refused connection as Unavailable once its own
	// retries are spent.
	var se interface{ GRPCStatus() *status.Status }
	return errors.As(err, &se) && se.GRPCStatus().Code() == codes.Unavailable
}

// report counts the export and logs failures at most once a minute, and
// the recovery once. The caller holds e.mu.
func (e *exporter) report(err error) {
	now := time.Now()
	if err == nil {
		e.successes.Add(1)
		if e.failedInRow > 0 {
			e.logger.Info("OTLP export recovered", "failed_exports", e.failedInRow, "down_for", now.Sub(e.failingSince).Round(time.Second))
		}
		e.failedInRow = 0
		return
	}
	e.failures.Add(1)
	if e.failedInRow == 0 {
		e.failingSince = now
	}
	e.failedInRow++
	if e.failedInRow == 1 || now.Sub(e.lastLog) >= logEvery {
		e.lastLog = now
		what := "the counts are kept and sent with the next successful export"
		if !e.delta {
			what = "cumulative totals catch up with the next successful export"
		}
		e.logger.Warn("OTLP export failed; "+what, "err", err, "failed_exports", e.failedInRow)
	}
}

// toDelta returns a copy of rm with monotonic sums and histograms turned
// into deltas against what was acknowledged, and the state to record if
// the export succeeds. Gauges and up-down sums stay as they are, which is
// what the specification's delta preference asks for.
func (e *exporter) toDelta(rm *metricdata.ResourceMetrics) (*metricdata.ResourceMetrics, map[seriesKey]acked) {
	pending := map[seriesKey]acked{}
	out := &metricdata.ResourceMetrics{Resource: rm.Resource, ScopeMetrics: make([]metricdata.ScopeMetrics, len(rm.ScopeMetrics))}
	for i, sm := range rm.ScopeMetrics {
		osm := metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: make([]metricdata.Metrics, len(sm.Metrics))}
		for j, m := range sm.Metrics {
			om := m
			key := func(a attribute.Set) seriesKey { return seriesKey{sm.Scope.Name, m.Name, a.Equivalent()} }
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if d.IsMonotonic {
					om.Data = deltaSum(d, key, e.acked, pending, func(a acked) int64 { return a.i }, func(a *acked, v int64) { a.i = v })
				}
			case metricdata.Sum[float64]:
				if d.IsMonotonic {
					om.Data = deltaSum(d, key, e.acked, pending, func(a acked) float64 { return a.f }, func(a *acked, v float64) { a.f = v })
				}
			case metricdata.Histogram[float64]:
				om.Data = deltaHistogram(d, key, e.acked, pending, func(a acked) float64 { return a.f }, func(a *acked, v float64) { a.f = v })
			case metricdata.Histogram[int64]:
				om.Data = deltaHistogram(d, key, e.acked, pending, func(a acked) int64 { return a.i }, func(a *acked, v int64) { a.i = v })
			}
			osm.Metrics[j] = om
		}
		out.ScopeMetrics[i] = osm
	}
	return out, pending
}

func deltaSum[N int64 | float64](d metricdata.Sum[N], key func(attribute.Set) seriesKey, prev, pending map[seriesKey]acked,
	get func(acked) N, set func(*acked, N)) metricdata.Sum[N] {
	out := metricdata.Sum[N]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true, DataPoints: make([]metricdata.DataPoint[N], len(d.DataPoints))}
	for i, dp := range d.DataPoints {
		k := key(dp.Attributes)
		odp := dp
		odp.Exemplars = nil
		if a, ok := prev[k]; ok && a.start.Equal(dp.StartTime) && get(a) <= dp.Value {
			odp.StartTime = a.time
			odp.Value = dp.Value - get(a)
		}
		// else: first export of the series, or the cumulative was reset:
		// the whole value is new.
		next := acked{time: dp.Time, start: dp.StartTime}
		set(&next, dp.Value)
		pending[k] = next
		out.DataPoints[i] = odp
	}
	return out
}

func deltaHistogram[N int64 | float64](d metricdata.Histogram[N], key func(attribute.Set) seriesKey, prev, pending map[seriesKey]acked,
	get func(acked) N, set func(*acked, N)) metricdata.Histogram[N] {
	out := metricdata.Histogram[N]{Temporality: metricdata.DeltaTemporality, DataPoints: make([]metricdata.HistogramDataPoint[N], len(d.DataPoints))}
	for i, dp := range d.DataPoints {
		k := key(dp.Attributes)
		odp := dp
		odp.Exemplars = nil
		odp.BucketCounts = append([]uint64(nil), dp.BucketCounts...)
		if a, ok := prev[k]; ok && a.start.Equal(dp.StartTime) && a.count <= dp.Count && len(a.buckets) == len(dp.BucketCounts) {
			odp.StartTime = a.time
			odp.Count = dp.Count - a.count
			odp.Sum = dp.Sum - get(a)
			for b := range odp.BucketCounts {
				odp.BucketCounts[b] -= a.buckets[b]
			}
			// The extremes of an interval cannot be derived from two
			// cumulative extremes, so none are claimed.
			odp.Min, odp.Max = metricdata.Extrema[N]{}, metricdata.Extrema[N]{}
		}
		next := acked{time: dp.Time, start: dp.StartTime, count: dp.Count, buckets: append([]uint64(nil), dp.BucketCounts...)}
		set(&next, dp.Sum)
		pending[k] = next
		out.DataPoints[i] = odp
	}
	return out
}
