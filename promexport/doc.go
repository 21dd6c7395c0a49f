// Package promexport serves the metricsbridge scrape endpoint: the
// OpenTelemetry Prometheus exporter, registered in a registry of its own and
// bridged through promhttp, with gzip and OpenMetrics negotiation and none of
// the otel_scope_* or target_info noise.
//
//	exp, err := promexport.New()
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
//	mux.Handle("GET /metrics/prometheus", exp)
//
// When metrics are disabled, Disabled answers 503 with a JSON body instead.
package promexport
