// Package otelmetrics measures HTTP requests through the OpenTelemetry meter
// API, as the stable semantic convention http.server.request.duration, and
// serves them as the Prometheus series http_requests_total and
// http_request_duration_seconds, plus app_info.
//
// A Provider owns an sdkmetric.MeterProvider with the metricsbridge views, a
// Prometheus registry of its own (never the global one, so any number of
// Providers can live in one process) and the instrument the middleware
// records into:
//
//	cfg, err := otelmetrics.ConfigFromEnv(os.LookupEnv)
//	p, err := otelmetrics.NewProvider(cfg)
//	mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
//	http.ListenAndServe(cfg.Addr(), p.Middleware(mux))
//
// Instrumentation that already records the semantic conventions needs no
// middleware of ours: otelhttp or otelgin handed p.MeterProvider() give the
// same series.
//
//	http.ListenAndServe(cfg.Addr(), otelhttp.NewHandler(mux, "svc",
//		otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter())))
//
// Requests are labelled with the route template they matched (http.route),
// never the raw path, so the series stay bounded.
package otelmetrics
