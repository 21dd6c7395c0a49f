// Package collector pushes the metricsbridge instruments over OTLP to an
// OpenTelemetry Collector or straight to a vendor's OTLP ingest.
//
// ConfigFromEnv resolves the standard OTEL_* variables (endpoint, headers,
// protocol, compression, timeout, temporality, interval, exporter list) and
// the vendor presets chosen by METRICS_OTLP_VENDOR: splunk, newrelic,
// datadog, grafana, prometheus and collector, each following its vendor's
// OTLP page (cited beside it). An explicit OTEL_* variable always wins over
// a preset, except where the destination would refuse it. The prometheus
// preset pushes the series the scrape endpoint serves
// (http_requests_total and the rest) rather than the instruments, when its
// Reader is given to otelmetrics.WithReader, so that a Prometheus server's
// OTLP receiver stores what a scrape would have stored. The standard certificate variables give TLS and mTLS over both
// protocols.
//
// The Pusher is a periodic reader over the SDK's OTLP exporter with
// additions the SDK lacks. Retries are its own, on the reader's goroutine,
// so request handling never waits for them: a request that certainly did
// not arrive (refused, unreachable, DNS failure, an answer asking to retry)
// is retried with back-off within the export timeout, and a wait the
// destination asks for (Retry-After, RetryInfo) is honoured across
// intervals. The answers OTLP calls retryable mean the same over both
// protocols: HTTP 429, 502, 503 and 504, and the gRPC codes UNAVAILABLE,
// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS sent
// by the destination, and RESOURCE_EXHAUSTED with RetryInfo. Delta data
// is the SDK's own delta aggregation, so every interval carries its min,
// max and exemplars; an interval whose export certainly was not accepted
// is merged into the next export (counts, sums and buckets add, min of
// mins, max of maxes, exemplars up to the reservoir's size), while one
// that may have arrived (the connection broke, or the client's deadline
// passed, after the request was written) or partly did (an OTLP partial
// success) is not sent again, since a delta sent twice is counted twice.
// A permanent refusal (any other answer, such as 400, 401, 403, 413,
// INVALID_ARGUMENT or UNAUTHENTICATED) is dropped and counted, not sent
// again. What is carried is at most one point per series and at most
// WithCardinalityLimit's series per metric; past it the oldest series are
// dropped, counted and logged. Headers and URLs are checked at start: no
// credentials in cleartext to another host, none in the URL, no control
// characters.
//
// ConfigFromEnv reads these variables (the METRICS_ form of an OTLP
// variable wins over the plain one):
//
//	OTEL_METRICS_EXPORTER                     prometheus, otlp, none (prometheus)
//	OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT     destination (http://localhost:4318)
//	OTEL_EXPORTER_OTLP_[METRICS_]HEADERS      k=v,... URL-encoded, sent as headers
//	OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL     http/protobuf or grpc
//	OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION  gzip or none
//	OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT      one request, milliseconds (10000)
//	OTEL_EXPORTER_OTLP_[METRICS_]CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY
//	                                          TLS and mTLS files
//	OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE  cumulative, delta, lowmemory
//	OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
//	                                          explicit_bucket_histogram or
//	                                          base2_exponential_bucket_histogram
//	OTEL_METRIC_EXPORT_INTERVAL               milliseconds (60000)
//	OTEL_METRIC_EXPORT_TIMEOUT                one export with retries (30000)
//	OTEL_SDK_DISABLED                         true turns push off
//	METRICS_OTLP_VENDOR                       a preset: collector, splunk,
//	                                          newrelic, datadog, grafana,
//	                                          prometheus
//	SPLUNK_REALM, SPLUNK_ACCESS_TOKEN         splunk
//	NEW_RELIC_LICENSE_KEY, NEW_RELIC_REGION   newrelic (us, eu, fedramp)
//	DD_API_KEY, DD_SITE, DD_AGENT_HOST        datadog
//	GRAFANA_CLOUD_OTLP_ENDPOINT, GRAFANA_CLOUD_INSTANCE_ID, GRAFANA_CLOUD_TOKEN
//	                                          grafana
//	OTEL_EXPORTER_OTLP_ENDPOINT               prometheus: the server's URL
//	                                          (http://localhost:9090)
//
// The builder manifest next to this file describes the Collector
// distribution the end-to-end tests push to (scripts/build-collector.sh).
package collector
