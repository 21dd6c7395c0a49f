// Package collector pushes the metricsbridge instruments over OTLP to an
// OpenTelemetry Collector or straight to a vendor's OTLP ingest.
//
// ConfigFromEnv resolves the standard OTEL_* variables (endpoint, headers,
// protocol, compression, timeout, temporality, interval, exporter list) and
// the vendor presets chosen by METRICS_OTLP_VENDOR: splunk, newrelic,
// datadog and collector. An explicit OTEL_* variable always wins over a
// preset.
//
// The Pusher is a periodic reader over the SDK's OTLP exporter with
// additions the SDK lacks. Retries are its own, on the reader's goroutine,
// so request handling never waits for them: a request that certainly did
// not arrive (refused, unreachable, DNS failure, an answer asking to retry)
// is retried with back-off within the export timeout, and a wait the
// destination asks for (Retry-After, RetryInfo) is honoured across
// intervals. Delta temporality is computed here from cumulative data
// against what the destination last acknowledged, so an interval that
// certainly failed is carried into the next export instead of being lost,
// while one that may have arrived (a connection reset after the request
// was written) is not sent again, since a delta sent twice is counted
// twice. Memory stays at one entry per series, bounded by the cardinality
// limit. Headers and URLs are checked at start: no credentials in cleartext
// to another host, none in the URL, no control characters.
//
// The builder manifest next to this file describes the Collector
// distribution the end-to-end tests push to (scripts/build-collector.sh).
package collector
