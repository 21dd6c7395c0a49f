package views_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge/views"
)

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := views.New(views.WithNamespace("a-b")); !errors.Is(err, views.ErrConfig) {
		t.Errorf("bad namespace: %v", err)
	}
	if _, err := views.New(views.WithBuckets([]float64{2, 1})); !errors.Is(err, views.ErrConfig) {
		t.Errorf("bad buckets: %v", err)
	}
	for _, n := range []int{-1, 8 - 1, 4096 + 1} {
		if _, err := views.New(views.WithNativeHistograms(n)); !errors.Is(err, views.ErrConfig) {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
	for _, n := range []int{0, 8, 160, 4096} {
		if _, err := views.New(views.WithNativeHistograms(n)); err != nil {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
}

// The views keep the semantic-convention instrument and set its buckets;
// otelhttp, otelgin or the bridge's middleware record through them alike.
func ExampleNew() {
	vs, err := views.New(views.WithBuckets([]float64{0.1, 0.5, 1}))
	if err != nil {
		panic(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithView(vs...), sdkmetric.WithReader(reader))
	h, _ := mp.Meter("example").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	h.Record(context.Background(), 0.2, metric.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("http.route", "/servers/{id}"),
		attribute.String("user_agent.original", "curl/8.5"), // not on the allow-list
	))

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	m := rm.ScopeMetrics[0].Metrics[0]
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
	fmt.Println(m.Name, dp.Bounds, dp.BucketCounts, dp.Attributes.Len())
	// Output:
	// http.server.request.duration [0.1 0.5 1] [0 1 0 0] 2
}
