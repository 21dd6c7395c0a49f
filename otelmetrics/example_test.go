package otelmetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func ExampleProvider_Middleware() {
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /servers/{id}/sse", func(http.ResponseWriter, *http.Request) {})
	h := p.Middleware(mux)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/servers/42/sse", nil))

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "http_requests_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// http_requests_total{handler="/servers/{id}/sse",method="GET",status="200"} 1
}

func ExampleConfigFromEnv() {
	env := map[string]string{"METRICS_LATENCY_BUCKETS": "0.5,0.1"}
	_, err := otelmetrics.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err)
	// Output:
	// invalid METRICS_LATENCY_BUCKETS="0.5,0.1": bucket boundaries must be strictly increasing (0.1 after 0.5)
}

// A service already instrumented with otelhttp needs no middleware of the
// bridge's: handed the bridge's MeterProvider, its
// http.server.request.duration becomes the same series.
func ExampleProvider_MeterProvider_otelhttp() {
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /servers/{id}/sse", func(http.ResponseWriter, *http.Request) {})
	h := otelhttp.NewHandler(mux, "gateway",
		otelhttp.WithMeterProvider(p.MeterProvider()),
		otelhttp.WithFilter(p.Filter()))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/servers/42/sse", nil))

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "http_requests_total") || strings.HasPrefix(line, "http_request_duration_seconds_count") {
			fmt.Print(line)
		}
	}
	// Output:
	// http_request_duration_seconds_count{handler="/servers/{id}/sse",method="GET"} 1
	// http_requests_total{handler="/servers/{id}/sse",method="GET",status="200"} 1
}
