package collector_test

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc/codes"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/logbuf"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// shaped is a MeterProvider with a counter and a latency histogram pushed
// by a Pusher that exports only when flushed.
type shaped struct {
	pusher *collector.Pusher
	mp     *sdkmetric.MeterProvider
	count  metric.Int64Counter
	hist   metric.Float64Histogram
	logs   *logbuf.Buffer
}

var latencyBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newShaped(t *testing.T, vars map[string]string, exportTimeout time.Duration, opts ...collector.Option) *shaped {
	t.Helper()
	cfg, err := collector.ConfigFromEnv(env.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Interval, cfg.ExportTimeout, cfg.Timeout = time.Hour, exportTimeout, exportTimeout
	logs := &logbuf.Buffer{}
	opts = append([]collector.Option{collector.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		collector.WithBackoff(10 * time.Millisecond)}, opts...)
	p, err := collector.New(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.Reader()), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Name: "latency"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBounds}})))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = mp.Shutdown(ctx)
	})
	s := &shaped{pusher: p, mp: mp, logs: logs}
	if s.count, err = mp.Meter("test").Int64Counter("requests"); err != nil {
		t.Fatal(err)
	}
	if s.hist, err = mp.Meter("test").Float64Histogram("latency", metric.WithUnit("s")); err != nil {
		t.Fatal(err)
	}
	return s
}

// sampled is a context whose span is sampled, so the SDK's default
// trace-based filter offers every measurement to the exemplar reservoir.
func sampled(i int) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}, TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// record measures one interval's known latency mix: its minimum and
// maximum differ from every other interval's.
func (s *shaped) record(interval int) []float64 {
	values := []float64{0.002 * float64(interval), 0.04, 0.3, 1.5 + 0.1*float64(interval)}
	for i, v := range values {
		s.hist.Record(sampled(100*interval+i), v)
		s.count.Add(context.Background(), 1)
	}
	return values
}

// flush exports now and returns when the export has ended: the reader
// would stop waiting at its export timeout, as the export's own retries
// end, and the test could look before the export is done.
func (s *shaped) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.mp.ForceFlush(ctx)
}

// A fault is what the destination does to the export of the second and
// later intervals, and what the test does before each flush. Each HTTP
// answer is paired with the gRPC status the OTLP specification gives the
// same meaning, so that both protocols go through one table.
type fault struct {
	name  string
	reply func(n int) otlptest.Reply
	// refuse, when set, answers every export of the second interval,
	// retries included.
	refuse *otlptest.Reply
	// permanent: refuse is not retryable, so in delta temporality the
	// refused interval is dropped and counted, never sent again; the
	// cumulative totals catch up with the next export.
	permanent bool
	before    func(t *testing.T, sink *otlptest.Sink, interval int)
	// timeout is the export timeout; wait is slept before the fourth flush.
	timeout, wait time.Duration
}

var faults = []fault{
	{name: "refused", before: func(t *testing.T, sink *otlptest.Sink, interval int) {
		switch interval {
		case 2:
			sink.Down(t)
			// Stopped a moment before the export, not at its instant: a
			// connection the destination closes while the request is on it
			// may have delivered it, and is the next row's case.
			time.Sleep(50 * time.Millisecond)
		case 4:
			sink.Up(t)
		}
		// gRPC reconnects on its own back-off, which the wait outlasts.
	}, timeout: 300 * time.Millisecond, wait: 1500 * time.Millisecond},
	{name: "reset after receipt", reply: func(n int) otlptest.Reply { return otlptest.Reply{Reset: n == 2} }, timeout: 2 * time.Second},
	{name: "503 or UNAVAILABLE with a wait", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Status: 503, Code: codes.Unavailable, RetryAfter: "1"}
		}
		return otlptest.Reply{}
	}, timeout: 3 * time.Second},
	{name: "429 or RESOURCE_EXHAUSTED with a wait across intervals", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Status: 429, Code: codes.ResourceExhausted, RetryAfter: "2"}
		}
		return otlptest.Reply{}
	}, timeout: 500 * time.Millisecond, wait: 2200 * time.Millisecond},
	{name: "partial success", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Rejected: 1}
		}
		return otlptest.Reply{}
	}, timeout: 2 * time.Second},
	// What the Collector's receiver answers for a refusal that is not
	// permanent, memory_limiter's included.
	{name: "503 or UNAVAILABLE", refuse: &otlptest.Reply{Status: 503, Code: codes.Unavailable}, timeout: time.Second},
	{name: "502 or ABORTED", refuse: &otlptest.Reply{Status: 502, Code: codes.Aborted}, timeout: time.Second},
	{name: "504 or DEADLINE_EXCEEDED", refuse: &otlptest.Reply{Status: 504, Code: codes.DeadlineExceeded}, timeout: time.Second},
	{name: "429 or OUT_OF_RANGE", refuse: &otlptest.Reply{Status: 429, Code: codes.OutOfRange}, timeout: time.Second},
	{name: "503 or DATA_LOSS", refuse: &otlptest.Reply{Status: 503, Code: codes.DataLoss}, timeout: time.Second},
	{name: "503 or CANCELLED", refuse: &otlptest.Reply{Status: 503, Code: codes.Canceled}, timeout: time.Second},
	{name: "400 or INVALID_ARGUMENT", refuse: &otlptest.Reply{Status: 400, Code: codes.InvalidArgument}, permanent: true, timeout: time.Second},
	{name: "401 or UNAUTHENTICATED", refuse: &otlptest.Reply{Status: 401, Code: codes.Unauthenticated}, permanent: true, timeout: time.Second},
	{name: "403 or PERMISSION_DENIED", refuse: &otlptest.Reply{Status: 403, Code: codes.PermissionDenied}, permanent: true, timeout: time.Second},
	{name: "413 or RESOURCE_EXHAUSTED without a wait", refuse: &otlptest.Reply{Status: 413, Code: codes.ResourceExhausted}, permanent: true, timeout: time.Second},
}

// Whatever the destination does (refuses the connection, resets it after
// reading the export, refuses the export for now or for good, asks to
// retry later, rejects part of it), over either protocol, what it ends up
// with is exactly what was measured: every count once, and for the
// histogram the count, sum and buckets, and min, max and exemplars of the
// intervals each point covers. In delta temporality an export that
// certainly was not accepted is merged into the next; one that may have
// arrived, or partly did, is never sent again; one refused for good is
// dropped and counted.
func TestFaultsKeepEveryInterval(t *testing.T) {
	for _, protocol := range []string{string(collector.ProtocolHTTP), string(collector.ProtocolGRPC)} {
		for _, temporality := range []string{string(collector.Delta), string(collector.Cumulative), string(collector.LowMemory)} {
			for _, f := range faults {
				if f.refuse != nil && temporality == string(collector.LowMemory) {
					// Lowmemory differs from delta only for asynchronous
					// counters, which the rows above cover; each of these
					// rows spends a whole export timeout refused.
					continue
				}
				t.Run(protocol+"/"+temporality+"/"+f.name, func(t *testing.T) {
					testFault(t, protocol, temporality, f)
				})
			}
		}
	}
}

func testFault(t *testing.T, protocol, temporality string, f fault) {
	var sink *otlptest.Sink
	vars := map[string]string{}
	if protocol == string(collector.ProtocolGRPC) {
		sink = otlptest.NewGRPCSink(t)
		vars["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
	} else {
		sink = otlptest.NewSink(t, false)
	}
	if f.reply != nil {
		sink.SetReply(f.reply)
	}
	maps.Copy(vars, httpVars(sink, temporality))
	s := newShaped(t, vars, f.timeout)
	delta := temporality != string(collector.Cumulative)
	var all, covered []float64
	kept, lost := 0, 0
	for interval := 1; interval <= 5; interval++ {
		if f.before != nil {
			f.before(t, sink, interval)
		}
		refusing := f.refuse != nil && interval == 2
		switch {
		case refusing:
			refusal := *f.refuse
			sink.SetReply(func(int) otlptest.Reply { return refusal })
		case f.refuse != nil && interval == 3:
			sink.SetReply(nil)
		}
		if interval == 4 {
			time.Sleep(f.wait)
		}
		v := s.record(interval)
		all, covered = append(all, v...), append(covered, v...)
		_ = s.flush() // failures are the point; the sink says what arrived
		if refusing && f.permanent && delta {
			lost += len(v)
			covered = nil
		}
		reqs := sink.Requests()
		if len(reqs) == kept {
			continue
		}
		want := covered
		if !delta {
			want = all
		}
		for _, r := range reqs[kept:] {
			checkShape(t, interval, r, want, delta)
		}
		kept, covered = len(reqs), nil
	}
	if got, want := sink.Total("requests"), int64(len(all)-lost); got != want {
		t.Errorf("requests: the destination counts %d, want %d (%d made, %d refused for good)", got, want, len(all), lost)
	}
	if got, want := sink.Total("latency"), int64(len(all)-lost); got != want {
		t.Errorf("latency: the destination counts %d, want %d (%d recorded, %d refused for good)", got, want, len(all), lost)
	}
	st := s.pusher.Stats()
	if st.Pending != 0 {
		t.Errorf("%d data points still pending: %+v", st.Pending, st)
	}
	switch {
	case f.permanent && delta:
		// One counter and one histogram point an interval.
		if st.Dropped != 2 {
			t.Errorf("%d data points counted as dropped, want the 2 of the interval refused for good: %+v", st.Dropped, st)
		}
	case f.refuse != nil && st.Dropped != 0:
		t.Errorf("%d data points dropped, want none: %+v", st.Dropped, st)
	}
	if t.Failed() {
		t.Logf("log:\n%s", s.logs)
	}
}

// checkShape checks the latency point of one export that arrived after
// the interval-th flush: it covers exactly the values want.
func checkShape(t *testing.T, interval int, r otlptest.Request, want []float64, delta bool) {
	t.Helper()
	var dp *metricpb.HistogramDataPoint
	var temporality metricpb.AggregationTemporality
	for _, rm := range r.Metrics.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "latency" {
					dp, temporality = m.GetHistogram().GetDataPoints()[0], m.GetHistogram().AggregationTemporality
				}
			}
		}
	}
	if dp == nil {
		t.Errorf("flush %d: no latency point arrived", interval)
		return
	}
	wantTemp := metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	if delta {
		wantTemp = metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	}
	var sum float64
	buckets := make([]uint64, len(latencyBounds)+1)
	for _, v := range want {
		sum += v
		i, _ := slices.BinarySearch(latencyBounds, v)
		buckets[i]++
	}
	switch {
	case temporality != wantTemp:
		t.Errorf("flush %d: temporality %s", interval, temporality)
	case dp.GetCount() != uint64(len(want)) || math.Abs(dp.GetSum()-sum) > 1e-9 || !slices.Equal(dp.GetBucketCounts(), buckets):
		t.Errorf("flush %d: count %d sum %g buckets %v, want %d, %g, %v", interval, dp.GetCount(), dp.GetSum(), dp.GetBucketCounts(), len(want), sum, buckets)
	case dp.Min == nil || dp.Max == nil:
		t.Errorf("flush %d: min or max missing: %v", interval, dp)
	case dp.GetMin() != slices.Min(want) || dp.GetMax() != slices.Max(want):
		t.Errorf("flush %d: min %g max %g, want %g and %g", interval, dp.GetMin(), dp.GetMax(), slices.Min(want), slices.Max(want))
	}
	if !delta {
		return
	}
	// One exemplar per bucket at most, each a measurement of the covered
	// intervals, and every bucket the values reached has one.
	seen := map[int]bool{}
	for _, e := range dp.GetExemplars() {
		i, _ := slices.BinarySearch(latencyBounds, e.GetAsDouble())
		if seen[i] || !slices.Contains(want, e.GetAsDouble()) || len(e.GetTraceId()) != 16 {
			t.Errorf("flush %d: exemplar %v is a duplicate or not a covered measurement (%v)", interval, e, want)
		}
		seen[i] = true
	}
	for i, n := range buckets {
		if n > 0 && !seen[i] {
			t.Errorf("flush %d: bucket %d has %d values and no exemplar: %v", interval, i, n, dp.GetExemplars())
		}
	}
}

// The temporality preferences as the specification defines them: delta
// makes counters, asynchronous counters and histograms deltas; lowmemory
// the same except asynchronous counters, which stay cumulative; up-down
// counters are cumulative in both.
func TestTemporalityPreferences(t *testing.T) {
	delta := metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	cumulative := metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	for _, tc := range []struct {
		preference                        string
		counter, observable, upDown, hist metricpb.AggregationTemporality
	}{
		{string(collector.Cumulative), cumulative, cumulative, cumulative, cumulative},
		{string(collector.Delta), delta, delta, cumulative, delta},
		{string(collector.LowMemory), delta, cumulative, cumulative, delta},
	} {
		t.Run(tc.preference, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			s := newShaped(t, httpVars(sink, tc.preference), 2*time.Second)
			m := s.mp.Meter("test")
			if _, err := m.Int64ObservableCounter("observed", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(42)
				return nil
			})); err != nil {
				t.Fatal(err)
			}
			ud, err := m.Int64UpDownCounter("in_flight")
			if err != nil {
				t.Fatal(err)
			}
			ud.Add(context.Background(), 2)
			s.record(1)
			if err := s.flush(); err != nil {
				t.Fatal(err)
			}
			got := map[string]metricpb.AggregationTemporality{}
			for _, name := range []string{"requests", "observed", "in_flight"} {
				if _, temps := sink.Points(name); len(temps) == 1 {
					got[name] = temps[0]
				}
			}
			if _, temps := sink.Histograms("latency"); len(temps) == 1 {
				got["latency"] = temps[0]
			}
			want := map[string]metricpb.AggregationTemporality{"requests": tc.counter, "observed": tc.observable, "in_flight": tc.upDown, "latency": tc.hist}
			if !maps.Equal(got, want) {
				t.Errorf("temporalities %v, want %v", got, want)
			}
		})
	}
}

// A series whose interval did not arrive and that has nothing new in the
// next one still arrives with it, as does a metric absent from the next
// collection altogether.
func TestCarriedSeriesWithoutNewData(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	s := newShaped(t, httpVars(sink, string(collector.Delta)), 300*time.Millisecond)
	a := metric.WithAttributes(attribute.String("route", "/a"))
	b := metric.WithAttributes(attribute.String("route", "/b"))
	sink.Down(t)
	s.count.Add(context.Background(), 3, a)
	s.hist.Record(context.Background(), 0.2, a)
	if err := s.flush(); err == nil {
		t.Fatal("the export to a closed port succeeded")
	}
	sink.Up(t)
	s.count.Add(context.Background(), 5, b)
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	byRoute := func(name string) map[string]int64 {
		got := map[string]int64{}
		points, _ := sink.Points(name)
		for _, dp := range points {
			got[otlptest.Attrs(dp.Attributes)["route"]] += dp.GetAsInt()
		}
		hists, _ := sink.Histograms(name)
		for _, dp := range hists {
			got[otlptest.Attrs(dp.Attributes)["route"]] += int64(dp.GetCount())
		}
		return got
	}
	if got := byRoute("requests"); !maps.Equal(got, map[string]int64{"/a": 3, "/b": 5}) {
		t.Errorf("requests by route %v", got)
	}
	if got := byRoute("latency"); !maps.Equal(got, map[string]int64{"/a": 1}) {
		t.Errorf("latency by route %v", got)
	}
	if st := s.pusher.Stats(); st.Pending != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The carry holds at most the cardinality limit's series per instrument,
// however many new series each failed interval brings: the oldest go
// first, dropped and counted. A permanent refusal is never carried: each
// export holds its own interval only. Whatever is neither delivered nor
// pending is counted as dropped, so made == received + dropped.
func TestCarryBounded(t *testing.T) {
	const limit, perInterval, intervals = 10, 5, 100
	for _, tc := range []struct {
		name    string
		reply   otlptest.Reply
		timeout time.Duration
		carried bool // a retryable refusal: the newest series wait for the next export
		// exact: no request can end in doubt, so what is pending is known;
		// a 503 is retried until the export's deadline, and a retry that
		// a loaded machine makes miss it may have arrived, and is dropped.
		exact   bool
		recover bool // the test can let the next export through
	}{
		{name: "503: carried, bounded", reply: otlptest.Reply{Status: 503}, timeout: 100 * time.Millisecond, carried: true, recover: true},
		{name: "429 asking to wait an hour: held back, bounded", reply: otlptest.Reply{Status: 429, RetryAfter: "3600"}, timeout: 2 * time.Second,
			carried: true, exact: true},
		{name: "401: dropped at once", reply: otlptest.Reply{Status: 401}, timeout: 2 * time.Second, exact: true, recover: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			refuse := true
			var mu sync.Mutex
			sink.SetReply(func(int) otlptest.Reply {
				mu.Lock()
				defer mu.Unlock()
				if refuse {
					return tc.reply
				}
				return otlptest.Reply{}
			})
			s := newShaped(t, httpVars(sink, string(collector.Delta)), tc.timeout, collector.WithCardinalityLimit(limit))
			made := 0
			attempts := 0
			for i := range intervals {
				for j := range perInterval {
					a := metric.WithAttributes(attribute.Int("interval", i), attribute.Int("series", j))
					s.count.Add(context.Background(), 1, a)
					s.hist.Record(context.Background(), 0.1, a)
					made += 2
				}
				_ = s.flush()
				st := s.pusher.Stats()
				want := int64(0)
				if tc.carried {
					want = int64(2 * min(limit, perInterval*(i+1)))
				}
				if st.Pending > want || (tc.exact && st.Pending != want) {
					t.Fatalf("interval %d: %d points pending, want %d (%+v)", i, st.Pending, want, st)
				}
				// Every attempt of this interval carries at most the bound
				// and the new interval.
				for _, r := range sink.Attempts()[attempts:] {
					if n := points(r); n > 2*(limit+perInterval) || (!tc.carried && n != 2*perInterval) {
						t.Fatalf("interval %d: an export of %d points", i, n)
					}
				}
				attempts = len(sink.Attempts())
			}
			if tc.recover {
				mu.Lock()
				refuse = false
				mu.Unlock()
				if err := s.flush(); err != nil {
					t.Fatal(err)
				}
			}
			st := s.pusher.Stats()
			received := sink.Total("requests") + sink.Total("latency")
			if int64(made) != received+st.Dropped+st.Pending {
				t.Errorf("%d points made, %d received, %d dropped, %d pending", made, received, st.Dropped, st.Pending)
			}
			if tc.carried && tc.recover {
				// The newest series are the ones kept: those of the last two intervals.
				if old := sink.TotalWhere("requests", func(a map[string]string) bool {
					n, err := strconv.Atoi(a["interval"])
					return err != nil || n < intervals-2
				}); old != 0 {
					t.Errorf("%d points of older intervals arrived instead of the newest", old)
				}
				if received > 2*limit {
					t.Errorf("%d points received after recovery, want at most %d", received, 2*limit)
				}
			}
			if !strings.Contains(s.logs.String(), "dropped_data_points") {
				t.Errorf("the drop is not logged:\n%s", s.logs)
			}
		})
	}
}

// points counts the data points of an export.
func points(r otlptest.Request) int {
	n := 0
	for _, rm := range r.Metrics.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				n += len(m.GetSum().GetDataPoints()) + len(m.GetHistogram().GetDataPoints())
			}
		}
	}
	return n
}
