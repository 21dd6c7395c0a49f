package promexport_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge/promexport"
)

// Any instrumentation that records the semantic convention
// http.server.request.duration is served as http_requests_total and
// http_request_duration_seconds, derived from the one histogram.
func ExampleNew() {
	exp, err := promexport.New()
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())

	duration, err := mp.Meter("example").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	if err != nil {
		panic(err)
	}
	for _, status := range []int{200, 200, 404} {
		duration.Record(context.Background(), 0.042, metric.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/users/{id}"),
			attribute.Int("http.response.status_code", status)))
	}

	rec := httptest.NewRecorder()
	exp.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "http_requests_total") || strings.HasPrefix(line, "http_request_duration_seconds_count") {
			fmt.Print(line)
		}
	}
	// Output:
	// http_request_duration_seconds_count{handler="/users/{id}",method="GET"} 3
	// http_requests_total{handler="/users/{id}",method="GET",status="200"} 2
	// http_requests_total{handler="/users/{id}",method="GET",status="404"} 1
}
