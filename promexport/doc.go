// Package promexport serves the metricsbridge scrape endpoint: the
// OpenTelemetry Prometheus exporter, registered in a registry of its own and
// bridged through promhttp, with zstd, gzip and OpenMetrics negotiation and
// none of the otel_scope_* or target_info noise.
//
// Requests are recorded as the semantic convention
// http.server.request.duration; the endpoint derives the Python
// gateway's http_requests_total{method,handler,status} and
// http_request_duration_seconds{method,handler} from that one histogram, so
// the two always agree, and can serve the convention as it is as well
// (WithNames). The instrumented provider is left alone: its OTLP readers
// push the conventions unchanged.
//
//	exp, err := promexport.New()
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
//	mux.Handle("GET /metrics/prometheus", exp)
//
// When metrics are disabled, Disabled answers 503 with a JSON body instead.
package promexport
