// Package otlpenv is what package collector and the binary share: the
// names of the variables collector.ConfigFromEnv reads, the process's
// resource, URL redaction and the sentinel of a failed export.
package otlpenv

import (
	"errors"
	"fmt"
	"net/url"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Environment variables. The OTEL_* ones mean what the OpenTelemetry
// specification says; collector.ConfigFromEnv resolves them itself (the Go
// SDK's exporters read only some of them) so that check can print what is
// used.
const (
	EnvExporters          = "OTEL_METRICS_EXPORTER"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvMetricsHeaders     = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvMetricsProtocol    = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvCompression        = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvMetricsCompress    = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
	EnvTimeout            = "OTEL_EXPORTER_OTLP_TIMEOUT"
	EnvMetricsTimeout     = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	EnvTemporality        = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
	EnvInterval           = "OTEL_METRIC_EXPORT_INTERVAL"
	EnvExportTimeout      = "OTEL_METRIC_EXPORT_TIMEOUT"
	EnvVendor             = "METRICS_OTLP_VENDOR"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"

	EnvSplunkRealm    = "SPLUNK_REALM"
	EnvSplunkToken    = "SPLUNK_ACCESS_TOKEN"
	EnvNewRelicKey    = "NEW_RELIC_LICENSE_KEY"
	EnvNewRelicRegion = "NEW_RELIC_REGION"
	EnvDatadogKey     = "DD_API_KEY"
	EnvDatadogSite    = "DD_SITE"
	EnvDatadogAgent   = "DD_AGENT_HOST"

	EnvGrafanaEndpoint = "GRAFANA_CLOUD_OTLP_ENDPOINT"
	EnvGrafanaInstance = "GRAFANA_CLOUD_INSTANCE_ID"
	EnvGrafanaToken    = "GRAFANA_CLOUD_TOKEN"

	EnvSDKDisabled          = "OTEL_SDK_DISABLED"
	EnvHistogramAggregation = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"

	// TLS files of the exporter; the metrics-specific variable wins over
	// the general one.
	EnvCertificate              = "OTEL_EXPORTER_OTLP_CERTIFICATE"
	EnvMetricsCertificate       = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"
	EnvClientCertificate        = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
	EnvMetricsClientCertificate = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE"
	EnvClientKey                = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
	EnvMetricsClientKey         = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY"
)

// Histogram aggregations OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
// names; the binary maps them onto METRICS_HISTOGRAMS.
const (
	HistogramExplicit    = "explicit_bucket_histogram"
	HistogramExponential = "base2_exponential_bucket_histogram"
)

// ErrExportFailed is wrapped by the error of an export the destination did
// not accept (already logged and counted by the pusher), so that the
// binary's shutdown can tell it from a failure of its own.
var ErrExportFailed = errors.New("OTLP export failed")

// FirstSet returns the first of names that is set to a non-blank value,
// else the last: the variable a setting is reported under.
func FirstSet(lookup env.Lookup, names ...string) string {
	for _, n := range names {
		if env.String(lookup, n, "") != "" {
			return n
		}
	}
	return names[len(names)-1]
}

// RedactURL returns raw fit to print: user information and query values
// are masked, since either may carry a key.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL, hidden)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// KeyValues reads the specification's "k=v,k2=v2" with URL-encoded values;
// secret hides raw from the errors.
func KeyValues(name, raw string, secret bool) (map[string]string, error) {
	pairs, err := env.Pairs(name, raw, secret)
	if err != nil || pairs == nil {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		dv, err := url.PathUnescape(kv[1])
		if err != nil {
			return nil, &env.Error{Var: name, Value: raw, Secret: secret, Reason: fmt.Sprintf("the value of %s is not URL-encoded correctly", kv[0])}
		}
		out[kv[0]] = dv
	}
	return out, nil
}

// Resource describes this process for scraped and pushed metrics:
// service.name defaults to "metricsbridge" and service.version to version;
// OTEL_RESOURCE_ATTRIBUTES and then OTEL_SERVICE_NAME override them. A bad
// OTEL_RESOURCE_ATTRIBUTES is an error matching metricsbridge.ErrConfig.
func Resource(lookup env.Lookup, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName("metricsbridge"), semconv.ServiceVersion(version)}
	kv, err := KeyValues(EnvResourceAttributes, env.String(lookup, EnvResourceAttributes, ""), false)
	if err != nil {
		return nil, env.Join(metricsbridge.ErrConfig, err)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs = append(attrs, attribute.String(k, kv[k]))
	}
	if name := env.String(lookup, EnvServiceName, ""); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	// Later attributes with the same key win in NewWithAttributes.
	return resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
}
