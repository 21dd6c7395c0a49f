package dashboard_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

// A summary from a reader of the instrumented provider: rates from the
// difference between two snapshots, percentiles from the buckets.
func ExampleNew() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	duration, _ := mp.Meter("example").Float64Histogram("http.server.request.duration",
		metric.WithExplicitBucketBoundaries(0.01, 0.1, 1))

	d, _ := dashboard.New(reader, dashboard.Config{})
	_ = d.Snapshot(context.Background()) // the baseline; d.Start() would take one every 5 s

	ok := metric.WithAttributeSet(attribute.NewSet(semconv.HTTPRequestMethodKey.String("GET"), semconv.HTTPRouteKey.String("/items/{id}"), semconv.HTTPResponseStatusCodeKey.Int(200)))
	failed := metric.WithAttributeSet(attribute.NewSet(semconv.HTTPRequestMethodKey.String("GET"), semconv.HTTPRouteKey.String("/items/{id}"), semconv.HTTPResponseStatusCodeKey.Int(503)))
	for range 90 {
		duration.Record(context.Background(), 0.05, ok)
	}
	for range 10 {
		duration.Record(context.Background(), 0.5, failed)
	}
	_ = d.Snapshot(context.Background())

	s := d.Summary()
	fmt.Printf("requests %d, 5xx %.0f%%, p50 %.3f s, p99 %.3f s\n", s.Totals.Requests, s.Totals.ErrorRatio*100, s.Totals.P50, s.Totals.P99)
	for _, e := range s.Endpoints {
		fmt.Println(e.Method, e.Handler, e.Requests)
	}
	// Output:
	// requests 100, 5xx 10%, p50 0.060 s, p99 0.910 s
	// GET /items/{id} 100
}
