package promexport_test

import (
	"context"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/promexport"
	"github.com/metricsbridge/metricsbridge/views"
)

// Each scrape collects into the same buffers; what goes to the exporter
// unchanged (any metric but the HTTP duration) must not be overwritten by
// the next scrape while the exporter still reads it. Run with -race: gathers
// overlapping on the registry, beside recording, and every gather sees
// totals that only grow.
func TestOverlappingGathersShareNoData(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := promexport.New(promexport.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	vs, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.Reader()), sdkmetric.WithView(vs...))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	meter := mp.Meter("test")
	other, err := meter.Int64Counter("jobs")
	if err != nil {
		t.Fatal(err)
	}
	duration, err := meter.Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	attrs := metric.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/a"), attribute.Int("http.response.status_code", 200))

	const gathers, rounds = 4, 25
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range gathers * rounds * 4 {
			other.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("k", i%50)))
			duration.Record(context.Background(), 0.01, attrs)
		}
	})
	for range gathers {
		wg.Go(func() {
			var last float64
			for range rounds {
				mfs, err := reg.Gather()
				if err != nil {
					t.Error(err)
					return
				}
				var total float64
				for _, mf := range mfs {
					if mf.GetName() == "jobs_total" {
						for _, m := range mf.GetMetric() {
							total += m.GetCounter().GetValue()
						}
					}
				}
				if total < last {
					t.Errorf("jobs_total went from %g to %g", last, total)
				}
				last = total
			}
		})
	}
	wg.Wait()
}
