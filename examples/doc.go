// Package examples holds ready configurations that connect metricsbridge to
// the tools operators already run, and the tests that prove each of them with
// the real tool rather than by reading it.
//
//	docker compose -f examples/docker-compose.yml up --build   # bridge + Prometheus + Grafana
//	kubectl apply -k examples/kubernetes                        # bridge + Prometheus with pod discovery
//	promtool test rules examples/prometheus/rules_test.yml      # recording and alerting rules
//
// prometheus/ has the scrape job, the recording and alerting rules and their
// unit tests; grafana/ the dashboard and its provisioning; kubernetes/ the
// manifests; datadog/, newrelic/ and splunk/ the agent configurations that
// scrape the same endpoint with the same bearer token.
//
// go/ is a module of its own (so this module needs no router) holding one
// short program per way to label routes, each a single main.go to copy:
// servemux (RoutePattern around an http.ServeMux, and the only one with
// settings from the environment, a bearer token on the scrape endpoint and
// a graceful shutdown), chi, gorillamux, echo and gin (the router's hook
// calling otelmetrics.SetRoute), otelhttp and otelgin (OpenTelemetry's own
// instrumentation handed the provider's MeterProvider) and otlppush (OTLP
// push through the collector package, no scrape endpoint).
//
//	cd examples/go && go run ./chi
//
// The package has no code of its own: its tests run promtool and a
// Prometheus server over these files, and build each program copied alone
// into a module of its own.
package examples
