package collector

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
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
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// scopeName is the instrumentation scope of the export self-metrics.
const scopeName = "github.com/metricsbridge/metricsbridge/collector"

// logEvery is how often a persisting export failure is logged again.
const logEvery = time.Minute

type options struct {
	logger  *slog.Logger
	backoff time.Duration
	client  *http.Client
	limit   int
}

// Option configures a Pusher.
type Option interface{ apply(options) options }

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// WithLogger sets where export failures and recoveries are logged. Nil
// keeps slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options {
		if l != nil {
			o.logger = l
		}
		return o
	})
}

// withBackoff sets the first wait before retrying a refused connection
// (250ms by default); later waits double, up to 5 s, within the export
// timeout. It must be positive: New refuses anything else with
// errBackoff. Tests shorten it.
func withBackoff(d time.Duration) Option {
	return optionFunc(func(o options) options { o.backoff = d; return o })
}

// WithHTTPClient sets the client for http/protobuf exports: a proxy, or
// a test listener standing in for the vendor's host. Its transport is used
// as it is: Config.TLS (the certificate variables) applies only to the
// client New builds when this option is not used, or given nil.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o options) options {
		if c != nil {
			o.client = c
		}
		return o
	})
}

// WithCardinalityLimit bounds the delta data kept for the next export,
// when an export certainly did not arrive, to n series per instrument: the
// MeterProvider's cardinality limit, which bounds each collection the same
// way. Past it the oldest series are dropped and counted. By default, and
// when n is not positive, the bound is 2000, the SDK's default.
func WithCardinalityLimit(n int) Option {
	return optionFunc(func(o options) options {
		if n > 0 {
			o.limit = n
		}
		return o
	})
}

// defaultCardinalityLimit is the OpenTelemetry SDK's default cardinality
// limit, the carry's bound when WithCardinalityLimit is not used.
const defaultCardinalityLimit = 2000

// errBackoff is returned by New for a withBackoff that is not positive:
// zero would retry in a busy loop, a negative wait cannot be drawn.
var errBackoff = errors.New("the retry backoff must be positive")

// errThrottled is returned by an export skipped because the destination
// asked, with Retry-After or RetryInfo, to wait longer than an export may
// take; the data goes with the first export after the wait.
var errThrottled = errors.New("the OTLP destination asked to wait")

// maxBackoff caps the doubling retry wait.
const maxBackoff = 5 * time.Second

// minAttempt is the least time left in an export for a retry to start.
const minAttempt = 50 * time.Millisecond

// Pusher pushes the MeterProvider's instruments over OTLP on an interval.
type Pusher struct {
	exp    *exporter
	reader *sdkmetric.PeriodicReader
	// sink is Reader's answer for VendorPrometheus: the periodic reader,
	// to be fed the scrape endpoint's series (see derivedReader).
	sink *derivedReader
}

// New builds the OTLP exporter cfg describes and a periodic reader over it.
// Add Reader() to the MeterProvider; shutting the provider down pushes a
// final export.
func New(ctx context.Context, cfg Config, opts ...Option) (*Pusher, error) {
	o := options{logger: slog.Default(), backoff: 250 * time.Millisecond}
	for _, opt := range opts {
		if opt != nil {
			o = opt.apply(o)
		}
	}
	if o.backoff <= 0 {
		return nil, fmt.Errorf("collector: retry backoff %s: %w", o.backoff, errBackoff)
	}
	rec := &recorder{}
	inner, err := newOTLPExporter(ctx, cfg, o, rec)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	e := &exporter{
		inner:       inner,
		rec:         rec,
		temporality: cfg.Temporality,
		delta:       cfg.Temporality == Delta || cfg.Temporality == LowMemory,
		maxBatch:    cfg.MaxBatch,
		maxBytes:    cfg.MaxBytes,
		carry:       newCarry(o.limit),
		logger:      o.logger.With("url", otlpenv.RedactURL(cfg.URL)),
		backoff:     o.backoff,
	}
	// Batches are cut by the exporter, not WithMaxExportBatchSize (see
	// split), so the reader's timeout bounds a whole collection.
	ropts := []sdkmetric.PeriodicReaderOption{
		sdkmetric.WithInterval(cfg.Interval),
		sdkmetric.WithTimeout(cfg.ExportTimeout),
	}
	if cfg.Vendor != VendorPrometheus {
		return &Pusher{exp: e, reader: sdkmetric.NewPeriodicReader(e, ropts...)}, nil
	}
	late := &lateProducer{}
	r := sdkmetric.NewPeriodicReader(e, append(ropts, sdkmetric.WithProducer(late))...)
	return &Pusher{exp: e, reader: r, sink: &derivedReader{PeriodicReader: r, late: late}}, nil
}

// derivedReader pushes the scrape endpoint's series rather than the
// instruments: Prometheus then stores what it would have scraped, under
// the same names, and the queries written for the scrape work on it.
// otelmetrics.NewProvider recognises it (internal/derived) and gives it
// the endpoint's producer and a provider of its own.
type derivedReader struct {
	*sdkmetric.PeriodicReader
	late *lateProducer
}

func (r *derivedReader) UseDerived(p sdkmetric.Producer) { r.late.p.Store(&p) }

// lateProducer forwards to a producer known only once the scrape
// endpoint exists, after the reader was built.
type lateProducer struct {
	p atomic.Pointer[sdkmetric.Producer]
}

func (l *lateProducer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	p := l.p.Load()
	if p == nil {
		return nil, nil
	}
	return (*p).Produce(ctx)
}

func newOTLPExporter(ctx context.Context, cfg Config, o options, rec *recorder) (sdkmetric.Exporter, error) {
	// Options are explicit so that what check printed is what is used; they
	// take precedence over the variables the exporters read themselves.
	// The exporters' own retries are off: ours knows whether a failed
	// request may have arrived, which decides whether delta data may go
	// again, and honours a destination's wait across intervals.
	if cfg.Protocol == ProtocolGRPC {
		opts := []otlpmetricgrpc.Option{
			otlpmetricgrpc.WithDialOption(
				// gRPC's reconnect back-off grows to two minutes by
				// default; capped here so a restarted collector is found
				// within the export interval.
				grpc.WithConnectParams(grpc.ConnectParams{
					Backoff: backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
				}),
				grpc.WithUnaryInterceptor(rec.intercept),
				// Whether the request went on a connection, and whether the
				// destination answered, decide what a failed export means.
				grpc.WithStatsHandler(rec),
			),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}),
			otlpmetricgrpc.WithEndpointURL(cfg.URL),
			otlpmetricgrpc.WithHeaders(cfg.Headers),
			otlpmetricgrpc.WithTimeout(cfg.Timeout),
		}
		if cfg.Compression == CompressionGzip {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		if cfg.TLS != nil {
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(cfg.TLS.Clone())))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	compression := otlpmetrichttp.NoCompression
	if cfg.Compression == CompressionGzip {
		compression = otlpmetrichttp.GzipCompression
	}
	client := &http.Client{Timeout: cfg.Timeout}
	if cfg.TLS != nil {
		// The exporter would apply the certificate variables only to a
		// client of its own; this one carries them itself.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.TLS.Clone()
		// HTTP/1.1: over HTTP/2 a refused client certificate reads as
		// "client conn could not be established", hiding the TLS alert
		// that says why; one export an interval needs no multiplexing.
		tr.ForceAttemptHTTP2 = false
		client.Transport = tr
	}
	if o.client != nil {
		c := *o.client
		client = &c
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &recordingTransport{base: base, rec: rec}
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(cfg.URL),
		otlpmetrichttp.WithHeaders(cfg.Headers),
		otlpmetrichttp.WithCompression(compression),
		otlpmetrichttp.WithTimeout(cfg.Timeout),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
		otlpmetrichttp.WithHTTPClient(client),
	}
	return otlpmetrichttp.New(ctx, opts...)
}

// Reader is the periodic reader to register with the MeterProvider. With
// VendorPrometheus it pushes the scrape endpoint's series, not the
// provider's instruments, when given to otelmetrics.WithReader; registered
// with another provider directly, it pushes that provider's instruments.
func (p *Pusher) Reader() sdkmetric.Reader {
	if p.sink != nil {
		return p.sink
	}
	return p.reader
}

// Flush collects and exports now, outside the interval, within ctx. A
// first export right after start tells at once, in the log, whether the
// destination is reachable and accepts the credentials, instead of one
// interval later.
func (p *Pusher) Flush(ctx context.Context) error { return p.reader.ForceFlush(ctx) }

// RegisterMetrics adds the push self-metrics to mp:
// metricsbridge.otlp.exports{result} (success, partial, failure),
// metricsbridge.otlp.rejected_data_points (rejected in partial successes),
// metricsbridge.otlp.pending_data_points (not delivered yet, kept for the
// next export) and metricsbridge.otlp.dropped_data_points (given up on).
// It is separate from New because the reader must exist before the
// provider.
func (p *Pusher) RegisterMetrics(mp metric.MeterProvider) error {
	ok := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("success")))
	partial := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("partial")))
	failed := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("failure")))
	m := mp.Meter(scopeName)
	_, err1 := m.Int64ObservableCounter(mbsemconv.InstrumentOTLPExports,
		metric.WithDescription("OTLP exports by result: success, partial (the destination rejected some data points) or failure."),
		metric.WithUnit("{export}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			s := p.Stats()
			o.Observe(s.Successes, ok)
			o.Observe(s.Partials, partial)
			o.Observe(s.Failures, failed)
			return nil
		}))
	_, err2 := m.Int64ObservableCounter(mbsemconv.InstrumentOTLPRejected,
		metric.WithDescription("Data points OTLP destinations rejected in partial successes; they are not sent again."),
		metric.WithUnit("{data_point}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(p.exp.rejected.Load())
			return nil
		}))
	_, err3 := m.Int64ObservableGauge(mbsemconv.InstrumentOTLPPending,
		metric.WithDescription("Data points the last OTLP export did not deliver, kept for the next one."),
		metric.WithUnit("{data_point}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(p.exp.pending.Load())
			return nil
		}))
	_, err4 := m.Int64ObservableCounter(mbsemconv.InstrumentOTLPDropped,
		metric.WithDescription("Data points given up on: delta exports that may have arrived or were refused for good (not sent again), carried series past the cardinality limit, and what the last export at shutdown could not deliver."),
		metric.WithUnit("{data_point}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(p.exp.dropped.Load())
			return nil
		}))
	return errors.Join(err1, err2, err3, err4)
}

// Stats counts exports by result.
type Stats struct {
	Successes int64
	// Partials were accepted except for some data points the destination
	// rejected (OTLP partial success).
	Partials int64
	Failures int64
	// Rejected is the total of data points rejected in partial successes.
	Rejected int64
	// Pending is the number of data points the last export did not
	// deliver, kept for the next one.
	Pending int64
	// Dropped is the total of data points given up on.
	Dropped int64
}

// Stats returns how many exports succeeded, partly succeeded and failed so
// far, and what became of data that did not arrive.
func (p *Pusher) Stats() Stats {
	e := p.exp
	return Stats{Successes: e.successes.Load(), Partials: e.partials.Load(), Failures: e.failures.Load(), Rejected: e.rejected.Load(),
		Pending: e.pending.Load(), Dropped: e.dropped.Load()}
}

// exporter wraps the OTLP exporter: it asks the SDK for the temporality
// the destination wants, retries what certainly did not arrive, splits
// exports into batches, and in delta mode carries the intervals that
// certainly did not arrive into the next export (see carry.go).
type exporter struct {
	inner       sdkmetric.Exporter
	rec         *recorder
	temporality Temporality
	delta       bool // some instruments are pushed as deltas
	maxBatch    int
	maxBytes    int
	backoff     time.Duration

	// mu serialises exports (the reader may export from Shutdown while a
	// periodic export runs) and guards carry, notBefore and the log state.
	mu           sync.Mutex
	carry        *carry
	notBefore    time.Time // the destination's Retry-After, when it outlasts an export
	failingSince time.Time
	lastLog      time.Time
	lastPartial  time.Time
	lastDrop     time.Time
	failedInRow  int
	earlyLogged  bool // this failure episode was logged at its first attempt
	logger       *slog.Logger

	successes, partials, failures, rejected atomic.Int64
	// pending is the number of data points not yet delivered: carried to
	// the next export (delta) or to be caught up by it (cumulative).
	pending atomic.Int64
	// dropped counts data points given up on: a delta export that may have
	// arrived is not sent again, one refused for good is not either, the
	// carry keeps at most the cardinality limit's series per metric, and
	// what the last export at shutdown could not deliver is lost.
	dropped atomic.Int64
}

// Temporality follows the specification's temporality preferences: delta
// for counters, asynchronous counters and histograms; lowmemory the same
// except asynchronous counters, whose cumulative values the SDK would
// otherwise have to remember to subtract; up-down counters and gauges
// stay cumulative in both.
func (e *exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch e.temporality {
	case Delta:
		switch k {
		case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter, sdkmetric.InstrumentKindHistogram:
			return metricdata.DeltaTemporality
		}
	case LowMemory:
		switch k {
		case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
			return metricdata.DeltaTemporality
		}
	}
	return metricdata.CumulativeTemporality
}

func (e *exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return e.inner.Aggregation(k)
}

func (e *exporter) ForceFlush(ctx context.Context) error { return e.inner.ForceFlush(ctx) }

// Shutdown runs after the reader's last export: what that export could not
// deliver is lost now, and said so.
func (e *exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if n := e.pending.Swap(0); n > 0 || e.failedInRow > 0 {
		e.dropped.Add(n)
		e.logger.Warn("OTLP export at shutdown failed: data not delivered", "data_points", n,
			"failed_exports", e.failedInRow, "dropped_data_points_total", e.dropped.Load())
	}
	if e.carry != nil {
		e.carry = newCarry(e.carry.limit)
	}
	e.mu.Unlock()
	return e.inner.Shutdown(ctx)
}

// outcome is what an export's end says about its data.
type outcome int

const (
	// delivered: accepted in full.
	delivered outcome = iota
	// partial: accepted except for the data points the destination
	// rejected, and which ones is not said.
	partial
	// notDelivered: the destination certainly did not accept the data.
	notDelivered
	// unknown: the request may have arrived and been counted.
	unknown
	// refused: the destination refused the data for good (OTLP: not
	// retryable, e.g. bad credentials or an invalid or too large
	// request); sending it again would be refused again.
	refused
)

// errExportFailed wraps the error of an export that did not deliver its
// data; the Pusher has counted and logged it, and kept the data for the
// next export when it certainly did not arrive.
var errExportFailed = otlpenv.ErrExportFailed

// ErrPartialSuccess wraps the error of an export the destination accepted
// except for some data points; those are invalid to it and not sent again.
var ErrPartialSuccess = errors.New("OTLP export partly rejected")

func (e *exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := rm
	if e.delta {
		out = e.carry.mergeInto(rm)
		e.carryDrops()
	}
	if until := e.notBefore; time.Now().Before(until) {
		err := fmt.Errorf("%w: %w until %s", errExportFailed, errThrottled, until.Format(time.RFC3339))
		e.keep(out)
		e.report(notDelivered, err, result{})
		return err
	}
	var errs []error
	var unsent int64
	for _, part := range split(out, e.maxBatch, e.maxBytes) {
		o, res, err := e.exportRetrying(ctx, part)
		switch o {
		case partial:
			// Accepted but for the rejected points, which the destination
			// found invalid: sending the batch again would count the rest
			// twice (OTLP: a partial success must not be retried).
			errs = append(errs, fmt.Errorf("%w: %w", ErrPartialSuccess, err))
		case notDelivered:
			if e.delta {
				e.carry.add(part)
				e.carryDrops()
			} else {
				unsent += int64(dataPoints(part))
			}
			errs = append(errs, fmt.Errorf("%w: %w", errExportFailed, err))
		case unknown, refused:
			// A delta that may have arrived is not sent again: counted
			// twice it could not be undone, while a gap is visible. One
			// refused for good would only be refused again, and grow the
			// next export. Cumulative totals catch up either way.
			if e.delta {
				e.dropped.Add(int64(deltaPoints(part)))
			} else if o == refused {
				unsent += int64(dataPoints(part))
			}
			errs = append(errs, fmt.Errorf("%w: %w", errExportFailed, err))
		}
		e.report(o, err, res)
	}
	if e.delta {
		unsent = int64(e.carry.points)
	}
	e.pending.Store(unsent)
	return errors.Join(errs...)
}

// keep holds an export that was not attempted.
func (e *exporter) keep(rm *metricdata.ResourceMetrics) {
	if e.delta {
		e.carry.add(rm)
		e.carryDrops()
		e.pending.Store(int64(e.carry.points))
		return
	}
	e.pending.Store(int64(dataPoints(rm)))
}

// carryDrops counts the carried points the carry gave up on, and logs
// them at most once a minute. The caller holds e.mu.
func (e *exporter) carryDrops() {
	n := e.carry.dropped
	if n == 0 {
		return
	}
	e.carry.dropped = 0
	total := e.dropped.Add(int64(n))
	if now := time.Now(); e.lastDrop.IsZero() || now.Sub(e.lastDrop) >= logEvery {
		e.lastDrop = now
		e.logger.Warn("OTLP data kept for the next export dropped: past the cardinality limit's series per metric, the oldest go, as does a series whose type or histogram bounds changed",
			"dropped_data_points", n, "dropped_data_points_total", total, "limit", e.carry.limit)
	}
}

// deltaPoints counts the delta data points of rm.
func deltaPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			case metricdata.Sum[float64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			case metricdata.Histogram[int64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			case metricdata.Histogram[float64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			case metricdata.ExponentialHistogram[int64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			case metricdata.ExponentialHistogram[float64]:
				n += deltaCount(d.Temporality, len(d.DataPoints))
			}
		}
	}
	return n
}

func deltaCount(t metricdata.Temporality, n int) int {
	if t == metricdata.DeltaTemporality {
		return n
	}
	return 0
}

// exportRetrying retries, with doubling waits until ctx ends, what did not
// reach the destination (refused, unreachable, DNS failure, or an answer
// asking to retry) and, in cumulative mode only, what may have (a reset
// connection), since a cumulative total sent twice is still right.
func (e *exporter) exportRetrying(ctx context.Context, rm *metricdata.ResourceMetrics) (outcome, result, error) {
	wait := e.backoff
	for {
		e.rec.reset()
		start := time.Now()
		err := e.inner.Export(ctx, rm)
		took := time.Since(start)
		res := e.rec.get()
		if res.partial {
			return partial, res, err
		}
		if err == nil {
			return delivered, res, nil
		}
		v := classify(err, res)
		o := notDelivered
		switch {
		case v.mayHaveArrived:
			o = unknown
		case v.permanent:
			o = refused
		}
		if !v.retry || (v.mayHaveArrived && e.delta) {
			return o, res, err
		}
		if e.failedInRow == 0 && !e.earlyLogged {
			// Said at the first attempt, not after the export timeout, so a
			// wrong endpoint shows in the log seconds after start.
			e.earlyLogged, e.lastLog = true, time.Now()
			e.logger.Warn("OTLP export failed; retrying within the export timeout", "err", err)
		}
		// Jitter keeps a fleet from reconnecting in lockstep.
		d := max(wait/2+rand.N(wait/2+1), v.wait)
		// A retry cut short by the export's deadline may have arrived,
		// which in delta mode would lose an interval known not to have:
		// one starts only with time left for it, twice the last attempt.
		margin := max(2*took, minAttempt)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d+margin {
			if v.wait > 0 {
				// Not sooner than asked, even if that is intervals away.
				e.notBefore = time.Now().Add(v.wait)
			}
			return o, res, err
		}
		select {
		case <-ctx.Done():
			return o, res, errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// verdict is what an export error says.
type verdict struct {
	mayHaveArrived bool
	// permanent: the destination refused the data and, by OTLP, it must
	// not be sent again.
	permanent bool
	retry     bool
	wait      time.Duration // asked for by the destination
}

func classify(err error, res result) verdict {
	switch {
	case !res.sent:
		// The exporter failed before handing the request to the transport.
		return verdict{}
	case res.grpc:
		return classifyGRPC(err, res)
	case res.status != 0:
		// The destination answered with an error status: not accepted.
		// OTLP/HTTP: 429, 502, 503 and 504 may be retried, nothing else.
		switch res.status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return verdict{retry: true, wait: res.retryAfter}
		}
		return verdict{permanent: true}
	}
	if handshakeFailed(err) {
		// A certificate the client refuses, or one the destination
		// refuses: configuration, not worth retrying.
		return verdict{}
	}
	if !res.wrote {
		return verdict{retry: true}
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return verdict{retry: true}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return verdict{retry: true}
	case errors.As(err, &opErr) && opErr.Op == "write":
		// The request could not be written whole (typically a kept-alive
		// connection the destination closed, as when it restarted): a
		// destination decodes the whole body before accepting any of it.
		return verdict{retry: true}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return verdict{mayHaveArrived: true, retry: true}
	}
	return verdict{mayHaveArrived: true}
}

// classifyGRPC judges a failed gRPC export by its status and by what the
// transport saw: a status the destination sent is an answer, one the
// client made after the request went on a connection is not.
func classifyGRPC(err error, res result) verdict {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		if res.wrote {
			return verdict{mayHaveArrived: true}
		}
		return verdict{}
	}
	st := se.GRPCStatus()
	for _, d := range st.Details() {
		// Only the destination attaches RetryInfo.
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return verdict{retry: true, wait: max(ri.GetRetryDelay().AsDuration(), 0)}
		}
	}
	code := st.Code()
	switch {
	case res.answered || strings.Contains(st.Message(), "unexpected HTTP status code received from server"):
		// The destination (or a proxy before it, answering in HTTP)
		// refused the request: OTLP lists the codes that may be
		// retried. The data was not accepted: a server-side
		// DEADLINE_EXCEEDED is what an HTTP 504 is. RESOURCE_EXHAUSTED
		// without RetryInfo must not be retried, like every other code.
		switch code {
		case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
			return verdict{retry: true}
		}
		return verdict{permanent: true}
	case !res.wrote:
		// The request never went on a connection: the dial, the TLS
		// handshake or the name resolution failed, or the deadline came
		// while connecting.
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return verdict{retry: true}
		}
		return verdict{}
	case code == codes.Unavailable:
		// The connection broke with the request on it.
		return verdict{mayHaveArrived: true, retry: true}
	}
	// The client's own deadline or cancellation, or a failure of its own,
	// with the request on a connection.
	return verdict{mayHaveArrived: true}
}

func handshakeFailed(err error) bool {
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknownCA) || errors.As(err, &host) || errors.As(err, &invalid)
}

// report counts the export and logs failures at most once a minute, and
// the recovery once. The caller holds e.mu.
func (e *exporter) report(o outcome, err error, res result) {
	now := time.Now()
	switch o {
	case delivered:
		if e.successes.Add(1) == 1 && e.failedInRow == 0 && !e.earlyLogged {
			e.logger.Info("OTLP export delivered")
		}
		e.recovered(now)
		return
	case partial:
		e.partials.Add(1)
		e.rejected.Add(res.rejected)
		e.recovered(now)
		if e.lastPartial.IsZero() || now.Sub(e.lastPartial) >= logEvery {
			e.lastPartial = now
			e.logger.Warn("OTLP destination rejected part of an export; the rejected points are invalid to it and the rest arrived, so nothing is sent again",
				"rejected_data_points", res.rejected, "rejected_data_points_total", e.rejected.Load(), "message", res.message)
		}
		return
	}
	e.failures.Add(1)
	if e.failedInRow == 0 {
		e.failingSince = now
	}
	e.failedInRow++
	if (e.failedInRow == 1 && !e.earlyLogged) || now.Sub(e.lastLog) >= logEvery {
		e.lastLog = now
		what := "the data is kept and sent with the next export"
		switch {
		case !e.delta:
			what = "cumulative totals catch up with the next successful export"
		case o == unknown:
			what = "the request may have arrived, so its counts are not sent again (a delta sent twice would be counted twice): the destination may lack them"
		case o == refused:
			what = "the destination refused the data for good (not retryable: check the credentials, the endpoint and the request size), so its counts are dropped, not sent again"
		}
		e.logger.Warn("OTLP export failed; "+what, "err", err, "failed_exports", e.failedInRow,
			"dropped_data_points_total", e.dropped.Load())
	}
}

func (e *exporter) recovered(now time.Time) {
	if e.failedInRow > 0 || e.earlyLogged {
		e.logger.Info("OTLP export recovered", "failed_exports", e.failedInRow, "down_for", now.Sub(e.failingSince).Round(time.Second))
	}
	e.failedInRow, e.earlyLogged = 0, false
}

// result is what the transport saw of one export request.
type result struct {
	sent bool // handed to the transport
	grpc bool // over gRPC
	// wrote: over HTTP the whole request was written; over gRPC it went
	// on a connection (its headers were queued on one).
	wrote bool
	// answered: a gRPC status came from the destination, in its trailers.
	answered   bool
	status     int           // an HTTP error status the destination answered with
	retryAfter time.Duration // its Retry-After
	partial    bool          // OTLP partial success
	rejected   int64
	message    string
}

// recorder collects the result of the current export request from the
// HTTP transport or the gRPC interceptor, which see what the OTLP
// exporters' errors do not expose. Exports are serialised by exporter.mu;
// the lock is for the race detector's sake and costs nothing per request.
type recorder struct {
	mu  sync.Mutex
	res result
}

func (r *recorder) reset() { r.mu.Lock(); r.res = result{}; r.mu.Unlock() }

func (r *recorder) get() result { r.mu.Lock(); defer r.mu.Unlock(); return r.res }

func (r *recorder) update(f func(*result)) { r.mu.Lock(); f(&r.res); r.mu.Unlock() }

func (r *recorder) partialSuccess(ps *colmetricpb.ExportMetricsPartialSuccess) {
	if ps == nil || (ps.GetRejectedDataPoints() == 0 && ps.GetErrorMessage() == "") {
		return
	}
	r.update(func(res *result) {
		res.partial, res.rejected, res.message = true, res.rejected+ps.GetRejectedDataPoints(), ps.GetErrorMessage()
	})
}

func (r *recorder) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r.update(func(res *result) { res.sent, res.grpc = true, true })
	err := invoker(ctx, method, req, reply, cc, opts...)
	if resp, ok := reply.(*colmetricpb.ExportMetricsServiceResponse); ok && err == nil {
		r.partialSuccess(resp.GetPartialSuccess())
	}
	return err
}

// TagRPC, HandleRPC, TagConn and HandleConn make the recorder a gRPC
// stats handler, which sees what the exporter's error does not: whether
// the request went on a connection and whether the destination answered.
func (r *recorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (r *recorder) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s.(type) {
	case *stats.OutHeader:
		r.update(func(res *result) { res.wrote = true })
	case *stats.InTrailer:
		r.update(func(res *result) { res.answered = true })
	}
}

func (r *recorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (r *recorder) HandleConn(context.Context, stats.ConnStats) {}

// maxResponse bounds how much of a success response is read for a
// partial-success message.
const maxResponse = 64 << 10

type recordingTransport struct {
	base http.RoundTripper
	rec  *recorder
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.rec.update(func(res *result) { res.sent = true })
	// Whether the whole request was written decides whether a failure may
	// have reached the destination: one cut short while connecting or
	// writing (refused, a deadline during the dial, a kept-alive
	// connection the destination had closed) cannot have been accepted.
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.rec.update(func(res *result) { res.wrote = true })
			}
		},
	}))
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		t.rec.update(func(res *result) {
			res.status, res.retryAfter = resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"))
		})
		return resp, nil
	}
	if resp.Header.Get("Content-Type") != "application/x-protobuf" || resp.Body == nil {
		return resp, nil
	}
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	// The exporter reads the body after us, whatever we made of it.
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	var msg colmetricpb.ExportMetricsServiceResponse
	if rerr == nil && proto.Unmarshal(b, &msg) == nil {
		t.rec.partialSuccess(msg.GetPartialSuccess())
	}
	return resp, nil
}

// retryAfter reads RFC 9110's Retry-After: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(n, 0), int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), 24*time.Hour)
	}
	return 0
}
