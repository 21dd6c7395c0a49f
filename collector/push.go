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
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
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
// later waits double, up to 5 s, within the export timeout. It must be
// positive: New refuses anything else with ErrBackoff.
func WithBackoff(d time.Duration) Option {
	return optionFunc(func(o options) options { o.backoff = d; return o })
}

// WithHTTPClient sets the client for http/protobuf exports: a proxy, a
// private CA or a test listener standing in for the vendor's host.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o options) options { o.client = c; return o })
}

// ErrBackoff is returned by New for a WithBackoff that is not positive:
// zero would retry in a busy loop, a negative wait cannot be drawn.
var ErrBackoff = errors.New("the retry backoff must be positive")

// ErrThrottled is returned by an export skipped because the destination
// asked, with Retry-After or RetryInfo, to wait longer than an export may
// take; the data goes with the first export after the wait.
var ErrThrottled = errors.New("the OTLP destination asked to wait")

// maxBackoff caps the doubling retry wait.
const maxBackoff = 5 * time.Second

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
	if o.backoff <= 0 {
		return nil, fmt.Errorf("collector: WithBackoff(%s): %w", o.backoff, ErrBackoff)
	}
	rec := &recorder{}
	inner, err := newOTLPExporter(ctx, cfg, o, rec)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	e := &exporter{
		inner:   inner,
		rec:     rec,
		delta:   cfg.Temporality == Delta || cfg.Temporality == LowMemory,
		acked:   map[seriesKey]acked{},
		logger:  o.logger.With("url", RedactURL(cfg.URL)),
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
			),
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
	client := &http.Client{Timeout: cfg.Timeout}
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

// Reader is the periodic reader to register with the MeterProvider.
func (p *Pusher) Reader() sdkmetric.Reader { return p.reader }

// Config returns the configuration the Pusher was built from.
func (p *Pusher) Config() Config { return p.cfg }

// RegisterMetrics adds metricsbridge_otlp_exports_total{result} to mp. It
// is separate from New because the reader must exist before the provider.
func (p *Pusher) RegisterMetrics(mp metric.MeterProvider) error {
	ok := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("success")))
	partial := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("partial")))
	failed := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyResult.String("failure")))
	_, err := mp.Meter(ScopeName).Int64ObservableCounter(mbsemconv.InstrumentOTLPExports,
		metric.WithDescription("OTLP exports by result: success, partial (the destination rejected some data points) or failure."),
		metric.WithUnit("{export}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			s := p.Stats()
			o.Observe(s.Successes, ok)
			o.Observe(s.Partials, partial)
			o.Observe(s.Failures, failed)
			return nil
		}))
	return err
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
}

// Stats returns how many exports succeeded, partly succeeded and failed so
// far.
func (p *Pusher) Stats() Stats {
	return Stats{Successes: p.exp.successes.Load(), Partials: p.exp.partials.Load(), Failures: p.exp.failures.Load(), Rejected: p.exp.rejected.Load()}
}

// exporter wraps the OTLP exporter. It asks the SDK for cumulative data
// and, when the destination wants delta, subtracts what the destination
// last acknowledged. A failed export therefore loses nothing: its counts
// are part of the next successful delta. Memory is one entry per series,
// which the cardinality limit bounds.
type exporter struct {
	inner   sdkmetric.Exporter
	rec     *recorder
	delta   bool
	backoff time.Duration

	// mu serialises exports (the reader may export from Shutdown while a
	// periodic export runs) and guards acked, notBefore and the log state.
	mu           sync.Mutex
	acked        map[seriesKey]acked
	notBefore    time.Time // the destination's Retry-After, when it outlasts an export
	failingSince time.Time
	lastLog      time.Time
	lastPartial  time.Time
	failedInRow  int
	logger       *slog.Logger

	successes, partials, failures, rejected atomic.Int64
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
)

func (e *exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if until := e.notBefore; time.Now().Before(until) {
		err := fmt.Errorf("%w until %s", ErrThrottled, until.Format(time.RFC3339))
		e.report(notDelivered, err, result{})
		return err
	}
	out, pending := rm, map[seriesKey]acked(nil)
	if e.delta {
		out, pending = e.toDelta(rm)
	}
	o, res, err := e.exportRetrying(ctx, out)
	e.report(o, err, res)
	// In delta mode a request that may have arrived is taken as delivered:
	// sending its counts again could count them twice, which no backend
	// can undo, while a gap is visible. Partial successes are not taken as
	// delivered: the rejected points go again with the next export.
	if o == delivered || (o == unknown && e.delta) {
		for k, v := range pending {
			e.acked[k] = v
		}
	}
	return err
}

// exportRetrying retries, with doubling waits until ctx ends, what did not
// reach the destination (refused, unreachable, DNS failure, or an answer
// asking to retry) and, in cumulative mode only, what may have (a reset
// connection), since a cumulative total sent twice is still right.
func (e *exporter) exportRetrying(ctx context.Context, rm *metricdata.ResourceMetrics) (outcome, result, error) {
	wait := e.backoff
	for {
		e.rec.reset()
		err := e.inner.Export(ctx, rm)
		res := e.rec.get()
		if res.partial {
			return partial, res, err
		}
		if err == nil {
			return delivered, res, nil
		}
		v := classify(err, res)
		o := notDelivered
		if v.mayHaveArrived {
			o = unknown
		}
		if !v.retry || (v.mayHaveArrived && e.delta) {
			return o, res, err
		}
		// Jitter keeps a fleet from reconnecting in lockstep.
		d := max(wait/2+rand.N(wait/2+1), v.wait)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
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
	retry          bool
	wait           time.Duration // asked for by the destination
}

func classify(err error, res result) verdict {
	switch {
	case !res.sent:
		// The exporter failed before handing the request to the transport.
		return verdict{}
	case res.status != 0:
		// The destination answered with an error status: not accepted.
		switch res.status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return verdict{retry: true, wait: res.retryAfter}
		}
		return verdict{}
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return classifyGRPC(se.GRPCStatus())
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return verdict{retry: true}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return verdict{retry: true}
	case handshakeFailed(err):
		return verdict{}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return verdict{mayHaveArrived: true, retry: true}
	}
	return verdict{mayHaveArrived: true}
}

// classifyGRPC judges a gRPC status: one the transport made when it
// could not connect, or one the destination sent.
func classifyGRPC(st *status.Status) verdict {
	for _, d := range st.Details() {
		// Only the destination attaches RetryInfo.
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return verdict{retry: true, wait: max(ri.GetRetryDelay().AsDuration(), 0)}
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		if m := st.Message(); strings.Contains(m, "Error while dialing") || strings.Contains(m, "authentication handshake failed") ||
			strings.Contains(m, "produced zero addresses") {
			return verdict{retry: true}
		}
		// A connection that broke with the request on it.
		return verdict{mayHaveArrived: true, retry: true}
	case codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal:
		return verdict{mayHaveArrived: true}
	}
	// The destination refused the data, e.g. InvalidArgument or
	// Unauthenticated; ResourceExhausted without RetryInfo is not to be
	// retried.
	return verdict{}
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
		e.successes.Add(1)
		e.recovered(now)
		return
	case partial:
		e.partials.Add(1)
		e.rejected.Add(res.rejected)
		e.recovered(now)
		if e.lastPartial.IsZero() || now.Sub(e.lastPartial) >= logEvery {
			e.lastPartial = now
			what := "cumulative totals are sent again with the next export"
			if e.delta {
				what = "the counts are sent again with the next export"
			}
			e.logger.Warn("OTLP destination rejected part of an export; "+what,
				"rejected_data_points", res.rejected, "message", res.message)
		}
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
		switch {
		case !e.delta:
			what = "cumulative totals catch up with the next successful export"
		case o == unknown:
			what = "the request may have arrived, so its counts are not sent again (a delta sent twice would be counted twice): the destination may lack them"
		}
		e.logger.Warn("OTLP export failed; "+what, "err", err, "failed_exports", e.failedInRow)
	}
}

func (e *exporter) recovered(now time.Time) {
	if e.failedInRow > 0 {
		e.logger.Info("OTLP export recovered", "failed_exports", e.failedInRow, "down_for", now.Sub(e.failingSince).Round(time.Second))
	}
	e.failedInRow = 0
}

// result is what the transport saw of one export request.
type result struct {
	sent       bool          // handed to the transport
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
	r.update(func(res *result) { res.sent = true })
	err := invoker(ctx, method, req, reply, cc, opts...)
	if resp, ok := reply.(*colmetricpb.ExportMetricsServiceResponse); ok && err == nil {
		r.partialSuccess(resp.GetPartialSuccess())
	}
	return err
}

// maxResponse bounds how much of a success response is read for a
// partial-success message.
const maxResponse = 64 << 10

type recordingTransport struct {
	base http.RoundTripper
	rec  *recorder
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.rec.update(func(res *result) { res.sent = true })
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
