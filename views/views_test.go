package views_test

import (
	"errors"
	"slices"
	"strconv"
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

// http.server.active_requests keeps the two attributes the conventions
// require, whichever instrumentation records it: server.address and
// server.port (allowed by the conventions) and anything else would split
// the count.
func TestActiveRequestsAttributes(t *testing.T) {
	vs, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd), sdkmetric.WithView(vs...))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	c, err := mp.Meter("some/instrumentation").Int64UpDownCounter("http.server.active_requests")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"a.example", "b.example"} {
		c.Add(t.Context(), 1, metric.WithAttributes(
			attribute.String("http.request.method", "GET"), attribute.String("url.scheme", "https"),
			attribute.String("server.address", host), attribute.Int("server.port", 443),
			attribute.String("http.route", "/x"), attribute.String("user_agent.original", "curl")))
	}
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				got = append(got, dp.Attributes.Encoded(attribute.DefaultEncoder())+" "+strconv.FormatInt(dp.Value, 10))
			}
		}
	}
	if want := []string{"http.request.method=GET,url.scheme=https 2"}; !slices.Equal(got, want) {
		t.Errorf("points %q, want %q", got, want)
	}
}
