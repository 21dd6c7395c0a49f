// Package collector pushes the metricsbridge instruments over OTLP to an
// OpenTelemetry Collector or straight to a vendor's OTLP ingest.
//
// ConfigFromEnv resolves the standard OTEL_* variables (endpoint, headers,
// protocol, compression, timeout, temporality, interval, exporter list) and
// the vendor presets chosen by METRICS_OTLP_VENDOR: splunk, newrelic,
// datadog and collector. An explicit OTEL_* variable always wins over a
// preset.
//
// The Pusher is a periodic reader over the SDK's OTLP exporter with two
// additions the SDK lacks. A refused or reset connection is retried with
// back-off within the export timeout, on the reader's own goroutine, so
// request handling never waits for it. And delta temporality is computed
// here from cumulative data against what the destination last acknowledged,
// so an interval that fails to export is carried into the next successful
// one instead of being lost; memory stays at one entry per series, bounded
// by the cardinality limit.
//
// The builder manifest next to this file describes the Collector
// distribution the end-to-end tests push to (scripts/build-collector.sh).
package collector
