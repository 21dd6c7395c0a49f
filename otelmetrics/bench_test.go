package otelmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/metricsbridge/metricsbridge/views"
)

// BenchmarkMiddleware measures what each way of instrumenting costs on the
// same mux and handler: nothing (bare), client_golang's promhttp
// (InstrumentHandlerCounter+Duration), otelhttp with the OTel Prometheus
// exporter, and metricsbridge. Compare each one's ns/op minus bare's.
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/invoke", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "h", Buckets: views.DefaultBuckets,
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

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"promhttp", promWrapped},
		{"otelhttp", otelWrapped},
		{"bridge", p.Middleware(mux)},
	} {
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
}
