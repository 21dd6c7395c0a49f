// Package collector pushes the metricsbridge instruments over OTLP to an
// OpenTelemetry Collector or straight to a vendor's OTLP ingest.
//
// ConfigFromEnv resolves the standard OTEL_* variables (endpoint, headers,
// protocol, compression, timeout, temporality, interval, exporter list) and
// the vendor presets chosen by METRICS_OTLP_VENDOR: splunk, newrelic,
// datadog, grafana and collector, each following its vendor's OTLP page
// (cited beside it). An explicit OTEL_* variable always wins over a
// preset. The standard certificate variables give TLS and mTLS over both
// protocols.
//
// The Pusher is a periodic reader over the SDK's OTLP exporter with
// additions the SDK lacks. Retries are its own, on the reader's goroutine,
// so request handling never waits for them: a request that certainly did
// not arrive (refused, unreachable, DNS failure, an answer asking to retry)
// is retried with back-off within the export timeout, and a wait the
// destination asks for (Retry-After, RetryInfo) is honoured across
// intervals. Delta data is the SDK's own delta aggregation, so every
// interval carries its min, max and exemplars; an interval whose export
// certainly failed is merged into the next export (counts, sums and
// buckets add, min of mins, max of maxes, exemplars up to the reservoir's
// size), while one that may have arrived (a connection reset after the
// request was written) or partly did (an OTLP partial success) is not sent
// again, since a delta sent twice is counted twice. Memory stays at one
// carried point per series, bounded by the cardinality
// limit. Headers and URLs are checked at start: no credentials in cleartext
// to another host, none in the URL, no control characters.
//
// The builder manifest next to this file describes the Collector
// distribution the end-to-end tests push to (scripts/build-collector.sh).
package collector
