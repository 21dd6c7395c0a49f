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
//
// ConfigFromEnv reads these variables (docs/configuration.md has the
// defaults and what each accepts):
//
//   - ENABLE_METRICS: serve the scrape endpoint (default false)
//   - METRICS_EXCLUDED_HANDLERS: regular expressions of requests not recorded
//   - METRICS_NAMESPACE, METRICS_SUBSYSTEM: the prefix of the derived series
//   - METRICS_CUSTOM_LABELS: app_info's labels, at most 20 key=value pairs,
//     values of at most 128 bytes
//   - METRICS_LATENCY_BUCKETS: classic bucket boundaries in seconds
//   - METRICS_CARDINALITY_LIMIT: series per instrument (default 2000)
//   - METRICS_PROMETHEUS_NAMES: instrumentator, semconv or both
//   - METRICS_BODY_SIZES, METRICS_EXEMPLARS: body-size histograms, exemplars
//   - METRICS_HISTOGRAMS, METRICS_NATIVE_MAX_BUCKETS: classic or native
//   - METRICS_IN_PROGRESS: requests in flight (http.server.active_requests,
//     served as http_requests_inprogress); off by default
//   - METRICS_DASHBOARD, METRICS_DASHBOARD_INTERVAL, METRICS_DASHBOARD_WINDOW:
//     through dashboard.ConfigFromEnv, into Config.Dashboard
//   - HOST, PORT: Config.Host and Config.Port (Config.Addr), where the
//     program listens
//
// The instruments' scope is github.com/metricsbridge/metricsbridge/otelmetrics.
package otelmetrics
