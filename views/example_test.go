package views_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge/views"
)

// The views set the latency buckets of http.server.request.duration and
// keep only the allowed attributes, whichever instrumentation records it:
// a client address or a user agent never makes a series of its own.
func ExampleNew() {
	vs, err := views.New(views.WithBuckets([]float64{0.1, 0.5, 1}))
	if err != nil {
		panic(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithView(vs...), sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	duration, err := mp.Meter("example").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	if err != nil {
		panic(err)
	}
	for _, client := range []string{"192.0.2.1", "192.0.2.2"} {
		duration.Record(context.Background(), 0.2, metric.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/users/{id}"),
			attribute.String("client.address", client)))
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Bounds, p.Count)
			}
		}
	}
	// Output:
	// http.server.request.duration http.request.method=GET,http.route=/users/{id} [0.1 0.5 1] 2
}
