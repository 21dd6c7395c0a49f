// Package otelmetrics measures HTTP requests through the OpenTelemetry meter
// API and exposes them as the Prometheus series http_requests_total and
// http_request_duration_seconds, plus app_info.
//
// A Provider owns an sdkmetric.MeterProvider with the metricsbridge views, a
// Prometheus registry of its own (never the global one, so any number of
// Providers can live in one process) and the instruments the middleware
// records into:
//
//	cfg, err := otelmetrics.ConfigFromEnv(os.LookupEnv)
//	p, err := otelmetrics.NewProvider(cfg)
//	mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
//	http.ListenAndServe(cfg.Addr(), p.Middleware(mux))
//
// The middleware labels each request with the route template it matched
// (http.Request.Pattern), never the raw path, so the series stay bounded.
package otelmetrics
