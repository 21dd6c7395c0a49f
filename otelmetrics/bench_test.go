package otelmetrics

import (
	"net/http"
	"net/http/httptest"
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
		// Behind request-copying middleware the route travels in the
		// context, which costs the request copy.
		{"bridge-route-pattern", p.Middleware(RoutePattern(mux))},
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
	// The goal as one number: the bridge's overhead over bare as a share
	// of promhttp's, timed in alternation so that both see the same
	// machine, with how many allocations the bridge adds.
	b.Run("overhead-ratio", func(b *testing.B) {
		const batch = 256
		w := &discardWriter{h: http.Header{}}
		r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
		var spent [3]time.Duration
		for b.Loop() {
			for i, h := range []http.Handler{mux, promWrapped, bridge} {
				start := time.Now()
				for range batch {
					h.ServeHTTP(w, r)
				}
				spent[i] += time.Since(start)
			}
		}
		b.ReportMetric(float64(spent[2]-spent[0])/float64(spent[1]-spent[0]), "bridge/promhttp-overhead")
		bare := testing.AllocsPerRun(100, func() { mux.ServeHTTP(w, r) })
		bridge := testing.AllocsPerRun(100, func() { bridge.ServeHTTP(w, r) })
		b.ReportMetric(bridge-bare, "bridge-added-allocs")
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
