// Package views holds the OpenTelemetry views that keep what the SDK
// aggregates for HTTP servers small and stable: the latency buckets and an
// attribute allow-list for the semantic convention
// http.server.request.duration (http.request.method, http.route,
// http.response.status_code, url.scheme, error.type), whichever
// instrumentation records it, so otelhttp's server.port,
// network.protocol.*, user_agent.* or client.address never multiply
// series; otelhttp's body-size histograms are dropped unless asked for.
//
// The views keep the conventions' names, so OTLP destinations receive them
// unchanged; the series http_requests_total and
// http_request_duration_seconds are derived at the scrape endpoint (package
// promexport). The views also name
// metricsbridge's own instruments (app_info and the self-metrics) with the
// optional namespace/subsystem prefix:
//
//	vs, err := views.New(views.WithNamespace("shop"), views.WithBuckets([]float64{0.1, 0.5, 1}))
//	if err != nil { ... }
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithView(vs...), sdkmetric.WithReader(r))
package views
