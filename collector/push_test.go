package collector_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// pushing is a MeterProvider with one counter, pushed by a Pusher that
// exports only when flushed.
type pushing struct {
	pusher *collector.Pusher
	mp     *sdkmetric.MeterProvider
	add    func(n int64)
	logs   *logbuf.Buffer
}

func newPushing(t *testing.T, vars map[string]string, exportTimeout time.Duration) *pushing {
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
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.Reader()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = mp.Shutdown(ctx)
	})
	c, err := mp.Meter("test").Int64Counter("requests")
	if err != nil {
		t.Fatal(err)
	}
	return &pushing{pusher: p, mp: mp, add: func(n int64) { c.Add(context.Background(), n) }, logs: logs}
}

// flush exports now and returns when the export has ended: the reader
// would stop waiting at its export timeout, as the export's own retries
// end, and the test could look before the export is done.
func (p *pushing) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.mp.ForceFlush(ctx)
}

func httpVars(sink *otlptest.Sink, temporality string) map[string]string {
	return map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL(),
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": temporality}
}

// A destination that reads a whole export and then resets the connection
// has counted it: in delta mode it must not get those counts again, by a
// retry or with the next export; in cumulative mode a retry is harmless.
func TestResetAfterReadNotCountedTwice(t *testing.T) {
	for _, temporality := range []string{string(collector.Delta), string(collector.Cumulative)} {
		t.Run(temporality, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			sink.SetReply(func(n int) otlptest.Reply { return otlptest.Reply{Reset: n%2 == 1} })
			p := newPushing(t, httpVars(sink, temporality), 2*time.Second)
			var sent int64
			for i, n := range []int64{5, 3, 7, 11} {
				p.add(n)
				sent += n
				err := p.flush()
				if temporality == string(collector.Delta) && (i%2 == 0) != (err != nil) {
					t.Errorf("flush %d: %v", i+1, err)
				}
				if got := sink.Total("requests"); got != sent {
					t.Fatalf("after flush %d (%d arrivals): the destination counts %d, want %d", i+1, len(sink.Arrivals()), got, sent)
				}
			}
			if temporality == string(collector.Delta) {
				if n := len(sink.Arrivals()); n != 4 {
					t.Errorf("%d arrivals, want one per flush", n)
				}
				if !strings.Contains(p.logs.String(), "may have arrived") {
					t.Errorf("the possible gap is not logged:\n%s", p.logs)
				}
			}
		})
	}
}

// A partial success is its own result, logged with the rejected count,
// the rejected points counted, and nothing of it is sent again: the
// specification says a partial success must not be retried, since the
// rejected points are invalid and the rest arrived.
func TestPartialSuccess(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	sink.SetReply(func(n int) otlptest.Reply {
		if n == 1 {
			return otlptest.Reply{Rejected: 2}
		}
		return otlptest.Reply{}
	})
	p := newPushing(t, httpVars(sink, string(collector.Delta)), 2*time.Second)
	self := sdkmetric.NewManualReader()
	smp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(self))
	if err := p.pusher.RegisterMetrics(smp); err != nil {
		t.Fatal(err)
	}
	p.add(5)
	if err := p.flush(); !errors.Is(err, collector.ErrPartialSuccess) || !strings.Contains(err.Error(), "partial success") {
		t.Errorf("flush: %v", err)
	}
	p.add(3)
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	points, _ := sink.Points("requests")
	if len(points) != 2 || points[0].GetAsInt() != 5 || points[1].GetAsInt() != 3 {
		t.Errorf("points %v: want 5, then 3 (the partly rejected export is not sent again)", points)
	}
	if s := p.pusher.Stats(); s != (collector.Stats{Successes: 1, Partials: 1, Rejected: 2}) {
		t.Errorf("stats %+v", s)
	}
	if l := p.logs.String(); !strings.Contains(l, "rejected part of an export") || !strings.Contains(l, "rejected_data_points=2") {
		t.Errorf("log:\n%s", l)
	}
	var rm metricdata.ResourceMetrics
	if err := self.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, dp := range points {
				r, _ := dp.Attributes.Value("result")
				got[m.Name+" "+r.AsString()] = dp.Value
			}
		}
	}
	want := map[string]int64{
		"metricsbridge.otlp.exports partial": 1, "metricsbridge.otlp.exports success": 1, "metricsbridge.otlp.exports failure": 0,
		"metricsbridge.otlp.rejected_data_points ": 2, "metricsbridge.otlp.pending_data_points ": 0, "metricsbridge.otlp.dropped_data_points ": 0,
	}
	if !maps.Equal(got, want) {
		t.Errorf("self-metrics %v, want %v", got, want)
	}
}

// Retry-After within the export timeout is waited for; longer, it holds
// back the exports of the next intervals until it has passed.
func TestRetryAfter(t *testing.T) {
	t.Run("within the timeout", func(t *testing.T) {
		sink := otlptest.NewSink(t, false)
		sink.SetReply(func(n int) otlptest.Reply {
			if n == 1 {
				return otlptest.Reply{Status: 503, RetryAfter: "1"}
			}
			return otlptest.Reply{}
		})
		p := newPushing(t, httpVars(sink, string(collector.Delta)), 3*time.Second)
		p.add(5)
		if err := p.flush(); err != nil {
			t.Fatal(err)
		}
		a := sink.Arrivals()
		if len(a) != 2 || a[1].Sub(a[0]) < 900*time.Millisecond {
			t.Errorf("arrivals %v: want a retry after 1 s", a)
		}
		if got := sink.Total("requests"); got != 5 {
			t.Errorf("total %d", got)
		}
	})
	t.Run("across intervals", func(t *testing.T) {
		sink := otlptest.NewSink(t, false)
		sink.SetReply(func(n int) otlptest.Reply {
			if n == 1 {
				return otlptest.Reply{Status: 429, RetryAfter: "2"}
			}
			return otlptest.Reply{}
		})
		p := newPushing(t, httpVars(sink, string(collector.Delta)), 500*time.Millisecond)
		checkHeldBack(t, p, func() int { return len(sink.Arrivals()) }, func() int64 { return sink.Total("requests") }, 2*time.Second)
	})
}

// checkHeldBack: the first export is answered "wait d"; the next one, at
// once, must not reach the destination; one after d carries everything.
func checkHeldBack(t *testing.T, p *pushing, arrivals func() int, total func() int64, d time.Duration) {
	t.Helper()
	start := time.Now()
	p.add(5)
	if err := p.flush(); err == nil {
		t.Fatal("the throttled export succeeded")
	}
	if time.Since(start) > d {
		t.Errorf("the export waited %s, longer than its timeout", time.Since(start))
	}
	p.add(3)
	if err := p.flush(); !errors.Is(err, collector.ErrThrottled) {
		t.Errorf("export within the wait: %v, want ErrThrottled", err)
	}
	if n := arrivals(); n != 1 {
		t.Fatalf("%d arrivals within the wait, want 1", n)
	}
	// The wait runs from the answer, a little after start on a busy machine.
	time.Sleep(time.Until(start.Add(d + 400*time.Millisecond)))
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	if n, got := arrivals(), total(); n != 2 || got != 8 {
		t.Errorf("after the wait: %d arrivals, total %d; want 2 and 8", n, got)
	}
}

// grpcSink is an OTLP/gRPC metrics receiver whose first export is
// answered Unavailable with RetryInfo.
type grpcSink struct {
	colmetricpb.UnimplementedMetricsServiceServer
	delay time.Duration
	mu    sync.Mutex
	n     int
	total int64
}

func (g *grpcSink) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	if g.n == 1 {
		st, _ := status.New(codes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(g.delay)})
		return nil, st.Err()
	}
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, dp := range m.GetSum().GetDataPoints() {
					g.total += dp.GetAsInt()
				}
			}
		}
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func (g *grpcSink) counts() (int, int64) { g.mu.Lock(); defer g.mu.Unlock(); return g.n, g.total }

func startGRPCSink(t *testing.T, delay time.Duration) (*grpcSink, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcSink{delay: delay}
	srv := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(srv, g)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return g, "http://" + ln.Addr().String()
}

func TestGRPCRetryInfo(t *testing.T) {
	vars := func(url string) map[string]string {
		return map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": url,
			"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"}
	}
	t.Run("within the timeout", func(t *testing.T) {
		g, url := startGRPCSink(t, 700*time.Millisecond)
		p := newPushing(t, vars(url), 3*time.Second)
		p.add(5)
		start := time.Now()
		if err := p.flush(); err != nil {
			t.Fatal(err)
		}
		if n, total := g.counts(); n != 2 || total != 5 || time.Since(start) < 700*time.Millisecond {
			t.Errorf("%d calls, total %d, after %s", n, total, time.Since(start))
		}
	})
	t.Run("across intervals", func(t *testing.T) {
		g, url := startGRPCSink(t, 2*time.Second)
		p := newPushing(t, vars(url), 500*time.Millisecond)
		checkHeldBack(t, p, func() int { n, _ := g.counts(); return n }, func() int64 { _, total := g.counts(); return total }, 2*time.Second)
	})
}

func TestWithBackoffValidated(t *testing.T) {
	cfg, err := collector.ConfigFromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := collector.New(t.Context(), cfg, collector.WithBackoff(d)); !errors.Is(err, collector.ErrBackoff) {
			t.Errorf("WithBackoff(%s): %v, want ErrBackoff", d, err)
		}
	}
	if _, err := collector.New(t.Context(), cfg, collector.WithBackoff(time.Nanosecond)); err != nil {
		t.Errorf("WithBackoff(1ns): %v", err)
	}
}

// TestNilOptions checks that a nil option, or an option given nil, keeps
// the default: the pusher still exports, and logs, instead of panicking.
func TestNilOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  collector.Option
	}{
		{"nil option", nil},
		{"WithLogger(nil)", collector.WithLogger(nil)},
		{"WithHTTPClient(nil)", collector.WithHTTPClient(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := otlptest.NewSink(t, false)
			cfg, err := collector.ConfigFromEnv(env.Map(httpVars(sink, string(collector.Delta))))
			if err != nil {
				t.Fatal(err)
			}
			p, err := collector.New(t.Context(), cfg, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.Reader()))
			defer mp.Shutdown(context.Background())
			c, err := mp.Meter("test").Int64Counter("requests")
			if err != nil {
				t.Fatal(err)
			}
			c.Add(t.Context(), 1)
			if err := p.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := len(sink.Arrivals()); n != 1 {
				t.Errorf("%d exports arrived, want 1", n)
			}
		})
	}
}
