package collector_test

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

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

func newShaped(t *testing.T, vars map[string]string, exportTimeout time.Duration) *shaped {
	t.Helper()
	cfg, err := collector.ConfigFromEnv(env.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Interval, cfg.ExportTimeout, cfg.Timeout = time.Hour, exportTimeout, exportTimeout
	logs := &logbuf.Buffer{}
	p, err := collector.New(t.Context(), cfg, collector.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		collector.WithBackoff(10*time.Millisecond))
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

func (s *shaped) flush() error { return s.mp.ForceFlush(context.Background()) }

// A fault is what the destination does to the export of the second and
// later intervals, and what the test does before each flush.
type fault struct {
	name   string
	reply  func(n int) otlptest.Reply
	before func(t *testing.T, sink *otlptest.Sink, interval int)
	// timeout is the export timeout; wait is slept before the fourth flush.
	timeout, wait time.Duration
}

var faults = []fault{
	{name: "refused", before: func(t *testing.T, sink *otlptest.Sink, interval int) {
		switch interval {
		case 2:
			sink.Down(t)
		case 4:
			sink.Up(t)
		}
	}, timeout: 300 * time.Millisecond},
	{name: "reset after receipt", reply: func(n int) otlptest.Reply { return otlptest.Reply{Reset: n == 2} }, timeout: 2 * time.Second},
	{name: "503 with Retry-After", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Status: 503, RetryAfter: "1"}
		}
		return otlptest.Reply{}
	}, timeout: 3 * time.Second},
	{name: "429 with Retry-After across intervals", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Status: 429, RetryAfter: "2"}
		}
		return otlptest.Reply{}
	}, timeout: 500 * time.Millisecond, wait: 2200 * time.Millisecond},
	{name: "partial success", reply: func(n int) otlptest.Reply {
		if n == 2 {
			return otlptest.Reply{Rejected: 1}
		}
		return otlptest.Reply{}
	}, timeout: 2 * time.Second},
}

// Whatever the destination does (refuses the connection, resets it after
// reading the export, asks to retry later, rejects part of it), what it
// ends up with is exactly what was measured: every count once, and for the
// histogram the count, sum and buckets, and min, max and exemplars of the
// intervals each point covers. In delta temporality an export that did not
// arrive is merged into the next; one that may have arrived, or partly
// did, is never sent again.
func TestFaultsKeepEveryInterval(t *testing.T) {
	for _, temporality := range []string{collector.Delta, collector.Cumulative, collector.LowMemory} {
		for _, f := range faults {
			t.Run(temporality+"/"+f.name, func(t *testing.T) {
				sink := otlptest.NewSink(t, false)
				if f.reply != nil {
					sink.SetReply(f.reply)
				}
				s := newShaped(t, httpVars(sink, temporality), f.timeout)
				delta := temporality != collector.Cumulative
				var all, covered []float64
				kept := 0
				for interval := 1; interval <= 5; interval++ {
					if f.before != nil {
						f.before(t, sink, interval)
					}
					if interval == 4 {
						time.Sleep(f.wait)
					}
					v := s.record(interval)
					all, covered = append(all, v...), append(covered, v...)
					_ = s.flush() // failures are the point; the sink says what arrived
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
				if got := sink.Total("requests"); got != int64(len(all)) {
					t.Errorf("requests: the destination counts %d, %d were made", got, len(all))
				}
				if got := sink.Total("latency"); got != int64(len(all)) {
					t.Errorf("latency: the destination counts %d, %d were recorded", got, len(all))
				}
				if st := s.pusher.Stats(); st.Pending != 0 {
					t.Errorf("%d data points still pending: %+v", st.Pending, st)
				}
				if t.Failed() {
					t.Logf("log:\n%s", s.logs)
				}
			})
		}
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
		{collector.Cumulative, cumulative, cumulative, cumulative, cumulative},
		{collector.Delta, delta, delta, cumulative, delta},
		{collector.LowMemory, delta, cumulative, cumulative, delta},
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
	s := newShaped(t, httpVars(sink, collector.Delta), 300*time.Millisecond)
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
