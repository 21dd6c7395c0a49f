package otelmetrics

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/metricsbridge/metricsbridge/internal/buckets"
)

// BenchmarkMiddleware measures what each way of instrumenting costs on the
// same mux and handler: nothing (bare), client_golang's promhttp
// (InstrumentHandlerCounter+Duration), otelhttp with the OTel Prometheus
// exporter, otelhttp handed the bridge's MeterProvider (the bridge's second
// way in), and the bridge's middleware. Compare each one's ns/op minus
// bare's. The parallel variants run the same on every core, so contention
// on shared state is measured too.
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/invoke", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "h", Buckets: buckets.Default(),
	}, []string{"method"})
	reg.MustRegister(requests, duration)
	promWrapped := promhttp.InstrumentHandlerCounter(requests, promhttp.InstrumentHandlerDuration(duration, mux))

	otelExp, err := otelprom.New(otelprom.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		b.Fatal(err)
	}
	otelMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(otelExp))
	b.Cleanup(func() { _ = otelMP.Shutdown(b.Context()) })
	otelWrapped := otelhttp.NewHandler(mux, "server",
		otelhttp.WithMeterProvider(otelMP), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))

	p := newTestProvider(b, nil)
	viaOtelhttp := newTestProvider(b, nil)
	otelhttpBridge := otelhttp.NewHandler(mux, "server",
		otelhttp.WithMeterProvider(viaOtelhttp.MeterProvider()), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))

	bridge := p.Middleware(mux)
	inProgress := newTestProvider(b, map[string]string{envInProgress: "true"}).Middleware(mux)
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"promhttp", promWrapped},
		{"otelhttp", otelWrapped},
		{"otelhttp-bridge-provider", otelhttpBridge},
		{"bridge", bridge},
		// serve's default: its probes left out, checked on every request.
		{"bridge-excluding-probes", newTestProvider(b, map[string]string{envExcludedHandlers: "^/health$,^/ready$"}).Middleware(mux)},
		// RoutePattern as the examples wire it, nothing between: the mux
		// sets the pattern where the middleware reads it.
		{"bridge-route-pattern", p.Middleware(RoutePattern(mux))},
		// Behind a request copy the pattern is handed over through the
		// request's state.
		{"bridge-route-pattern-copied", p.Middleware(requestID(RoutePattern(mux)))},
		// METRICS_IN_PROGRESS=true: two atomic adds a request.
		{"bridge-in-progress", inProgress},
		// The dashboard's snapshots, 50 times as often as by default.
		{"bridge-dashboard-100ms", dashboardProvider(b, 100*time.Millisecond).Middleware(mux)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
			bc.h.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, r)
			}
		})
	}
	// The goal as numbers: the bridge's overhead over the bare mux, around
	// the mux and around RoutePattern(mux), against the SDK's own cost of
	// recording one measurement (the floor) and against promhttp's
	// overhead, all timed in alternating batches so that each sees the
	// same machine.
	b.Run("overhead-ratio", func(b *testing.B) {
		benchOverhead(b, p, mux, promWrapped, bridge, p.Middleware(RoutePattern(mux)))
	})
	// What METRICS_IN_PROGRESS=true adds to a request, timed in
	// alternating batches against the same middleware with it off.
	b.Run("in-progress-added", func(b *testing.B) {
		benchAdded(b, bridge, inProgress)
	})
	for _, bc := range cases {
		b.Run("parallel/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
				for pb.Next() {
					bc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}

// BenchmarkSeriesGrowth adds n distinct attribute sets (route templates)
// through the middleware, on a fresh provider each time, and reports the
// cost per set: it must stay about the same from 2,000 to 60,000 sets, as
// it does when each new set costs O(1) amortised.
func BenchmarkSeriesGrowth(b *testing.B) {
	for _, n := range []int{2_000, 60_000} {
		routes := make([]string, n)
		for i := range routes {
			routes[i] = "/r" + strconv.Itoa(i) + "/{id}"
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				p := newTestProvider(b, map[string]string{envCardinalityLimit: strconv.Itoa(n + 10)})
				var i int
				// The handler sets the pattern as a mux would, without the
				// cost of a mux of n routes in the measurement.
				h := p.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { r.Pattern = routes[i] }))
				w := &discardWriter{h: http.Header{}}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				b.StartTimer()
				start := time.Now()
				for i = range n {
					h.ServeHTTP(w, r)
				}
				elapsed += time.Since(start)
				b.StopTimer()
				_ = p.Shutdown(b.Context())
				b.StartTimer()
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/set")
		})
	}
}

// benchOverhead times, in turns of one batch each, the SDK's Record with a
// prebuilt attribute set (what recording a request cannot cost less than),
// the bare mux, promhttp around it, two of the least any middleware could
// be, and the bridge around the mux directly and around RoutePattern(mux).
// The two least: timed reads the clock around the mux and records, which
// is all a middleware that records durations must do; labelled adds what
// one that labels requests by status and route must: a writer of its own
// for each request, which keeps the status, and finding the attribute set
// of the method, status and pattern (with the bridge's series cache). It
// reports the overheads over the bare mux beyond the floor, the bridge's
// as a share of promhttp's and beyond labelled's, and what the bridge adds
// in allocations and bytes.
func benchOverhead(b *testing.B, p *Provider, mux, prom, bridge, routed http.Handler) {
	const batch = 256
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
	bridge.ServeHTTP(w, r) // the series exists
	rec := p.inst.cache.get(seriesKey{method: methodIndex(r.Method), status: http.StatusOK, pattern: true, route: "POST /tools/invoke"}).rec
	ctx := r.Context()
	floor := func() { p.inst.duration.Record(ctx, 0.001, rec...) }
	timed := func() {
		start := time.Since(epoch)
		mux.ServeHTTP(w, r)
		p.inst.duration.Record(ctx, (time.Since(epoch) - start).Seconds(), rec...)
	}
	labelled := func() {
		start := time.Since(epoch)
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		s := p.inst.cache.get(seriesKey{method: methodIndex(r.Method), status: uint16(sw.code), pattern: true, route: r.Pattern})
		p.inst.duration.Record(ctx, (time.Since(epoch) - start).Seconds(), s.rec...)
	}
	serve := func(h http.Handler) func() { return func() { h.ServeHTTP(w, r) } }
	runs := []func(){floor, serve(mux), serve(prom), timed, labelled, serve(bridge), serve(routed)}
	// Each batch's time is kept: on a machine shared with other work a
	// batch during which the process waited for a core takes many times
	// the median, and those are left out; the rest, garbage collection
	// included, are averaged.
	spent := make([][]time.Duration, len(runs))
	for b.Loop() {
		for i, f := range runs {
			start := time.Now()
			for range batch {
				f()
			}
			spent[i] = append(spent[i], time.Since(start))
		}
	}
	per := func(i int) float64 {
		ds := slices.Clone(spent[i])
		slices.Sort(ds)
		limit := 2 * ds[len(ds)/2]
		var sum time.Duration
		var n int
		for _, d := range ds {
			if d <= limit {
				sum += d
				n++
			}
		}
		return float64(sum.Nanoseconds()) / float64(n*batch)
	}
	floorNs, bare, promNs, labelledNs := per(0), per(1), per(2), per(4)
	b.ReportMetric(floorNs, "floor-ns")
	b.ReportMetric(bare, "bare-ns")
	b.ReportMetric(promNs-bare, "promhttp-overhead-ns")
	for _, c := range []struct {
		name string
		ns   float64
	}{{"timed", per(3)}, {"labelled", labelledNs}} {
		b.ReportMetric(c.ns-bare-floorNs, c.name+"-over-floor-ns")
		b.ReportMetric((c.ns-bare)/(promNs-bare), c.name+"/promhttp-overhead")
	}
	for _, c := range []struct {
		name string
		i    int
		h    http.Handler
	}{{"bridge", 5, bridge}, {"routepattern", 6, routed}} {
		over := per(c.i) - bare
		b.ReportMetric(over-floorNs, c.name+"-over-floor-ns")
		b.ReportMetric(per(c.i)-labelledNs, c.name+"-over-labelled-ns")
		b.ReportMetric(over/(promNs-bare), c.name+"/promhttp-overhead")
		b.ReportMetric(testing.AllocsPerRun(100, serve(c.h))-testing.AllocsPerRun(100, serve(mux)), c.name+"-added-allocs")
		b.ReportMetric(bytesPerRun(1000, serve(c.h))-bytesPerRun(1000, serve(mux)), c.name+"-added-B")
	}
}

// statusWriter keeps the status a handler answers with, and nothing else.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// benchAdded reports what with costs a request over without: the median
// of the differences between batches run in turns, which a machine shared
// with other work disturbs far less than two separate benchmarks, and the
// allocations it adds.
func benchAdded(b *testing.B, without, with http.Handler) {
	const batch = 256
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
	without.ServeHTTP(w, r)
	with.ServeHTTP(w, r)
	var diffs, base []float64
	for b.Loop() {
		var spent [2]time.Duration
		for i, h := range []http.Handler{without, with} {
			start := time.Now()
			for range batch {
				h.ServeHTTP(w, r)
			}
			spent[i] = time.Since(start)
		}
		base = append(base, float64(spent[0].Nanoseconds())/batch)
		diffs = append(diffs, float64((spent[1]-spent[0]).Nanoseconds())/batch)
	}
	slices.Sort(diffs)
	slices.Sort(base)
	b.ReportMetric(base[len(base)/2], "off-ns")
	b.ReportMetric(diffs[len(diffs)/2], "added-ns")
	b.ReportMetric(testing.AllocsPerRun(100, func() { with.ServeHTTP(w, r) })-testing.AllocsPerRun(100, func() { without.ServeHTTP(w, r) }), "added-allocs")
}

// bytesPerRun is testing.AllocsPerRun for bytes.
func bytesPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}
