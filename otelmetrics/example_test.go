package otelmetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
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

// A handler that routes nothing itself, here a stand-in for a reverse
// proxy, is labelled by the templates of the API it serves.
func ExampleMatchRoutes() {
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(context.Background())

	table, err := routes.FromOpenAPI(context.Background(), []byte(`{"openapi": "3.0.3",
		"paths": {"/pets/{petId}": {"get": {}}}}`))
	if err != nil {
		panic(err)
	}
	proxy := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := p.Middleware(otelmetrics.MatchRoutes(table, proxy))
	for _, path := range []string{"/pets/1", "/pets/2", "/elsewhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "http_requests_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// http_requests_total{handler="/pets/{petId}",method="GET",status="200"} 2
	// http_requests_total{handler="none",method="GET",status="200"} 1
}
