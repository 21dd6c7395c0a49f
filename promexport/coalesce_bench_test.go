package promexport

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge/views"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// BenchmarkCoalesce measures 8 scrapes arriving together over 6,000
// series, with client_golang's HandlerOpts.CoalesceGather as the handler
// uses it and without ("none"). The package had a coalescing gatherer of
// its own before client_golang v1.25; it was not measurably faster and
// allocated the same, so it gave way to the upstream option.
func BenchmarkCoalesce(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	vs, err := views.New()
	if err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.Reader()), sdkmetric.WithView(vs...),
		sdkmetric.WithCardinalityLimit(10_000))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = e.Shutdown(context.Background()) })
	hist, err := mp.Meter("bench").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithUnit("s"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		for _, m := range []string{"GET", "POST"} {
			for _, s := range []int{200, 404, 500} {
				hist.Record(context.Background(), 0.001, metric.WithAttributes(
					mbsemconv.KeyHTTPMethod.String(m), mbsemconv.KeyHTTPRoute.String(fmt.Sprintf("/api/h%d/{code}", i)),
					mbsemconv.KeyHTTPStatus.Int(s), attribute.String("url.scheme", "http")))
			}
		}
	}
	opts := func(coalesce bool) promhttp.HandlerOpts {
		return promhttp.HandlerOpts{
			ErrorLog: slogAdapter{slog.New(slog.DiscardHandler)}, ErrorHandling: promhttp.ContinueOnError,
			EnableOpenMetrics: true, DisableCompression: true, CoalesceGather: coalesce,
		}
	}
	var reg prometheus.Gatherer = e.registry
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"CoalesceGather", newHandler(reg, slog.New(slog.DiscardHandler))},
		{"none", promhttp.HandlerFor(reg, opts(false))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const scrapers = 8
			r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range scrapers {
					wg.Go(func() {
						<-start
						rec := httptest.NewRecorder()
						bc.h.ServeHTTP(rec, r)
						if rec.Code != http.StatusOK || rec.Body.Len() < 100_000 {
							b.Errorf("scrape: %d, %d bytes", rec.Code, rec.Body.Len())
						}
					})
				}
				close(start)
				wg.Wait()
			}
		})
	}
}
