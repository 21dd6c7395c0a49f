// Package views holds the OpenTelemetry views that turn metricsbridge's
// instruments into the Prometheus series operators already query:
// http_requests_total{method,handler,status}, the
// http_request_duration_seconds histogram and the app_info gauge.
//
// The instruments keep stable OpenTelemetry names (see the Instrument*
// constants); the views give them their exported names, an optional
// namespace/subsystem prefix, the histogram boundaries and an attribute
// allow-list, so nothing but the documented labels reaches a series:
//
//	vs, err := views.New(views.WithNamespace("shop"), views.WithBuckets([]float64{0.1, 0.5, 1}))
//	if err != nil { ... }
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithView(vs...), sdkmetric.WithReader(r))
package views
