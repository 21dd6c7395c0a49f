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
// scrape the same endpoint with the same bearer token; go/servemux a program
// that instruments a plain http.ServeMux, go/otelhttp one measured by otelhttp
// alone, and go/chi, go/gorillamux, go/echo, go/gin and go/otelgin the router
// programs, each a module of its own. The package has no code of its own:
// its tests run promtool and a Prometheus server over these files.
package examples
