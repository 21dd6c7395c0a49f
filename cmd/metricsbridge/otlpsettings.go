package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
)

// otlpSettings returns the effective push configuration as NAME=value
// lines for check, each named by the variable a user sets: where the
// specification has a general variable and a metrics-specific one, the
// one that was set (the metrics-specific one wins), else the general one;
// setting each line as printed gives the same configuration. Header
// values are masked, durations are in milliseconds as the variables take
// them.
func otlpSettings(c collector.Config, lookup env.Lookup) []string {
	var exporters []string
	if c.Prometheus {
		exporters = append(exporters, "prometheus")
	}
	if c.OTLP {
		exporters = append(exporters, "otlp")
	}
	if len(exporters) == 0 {
		exporters = []string{"none"}
	}
	keys := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	headers := make([]string, len(keys))
	for i, k := range keys {
		// Every header value is treated as a secret: the specification's
		// headers variable is where API keys go.
		headers[i] = fmt.Sprintf("%s=(hidden, %d bytes)", k, len(c.Headers[k]))
	}
	pair := func(metrics, general, value string) string {
		return otlpenv.FirstSet(lookup, metrics, general) + "=" + value
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	endpoint, url := otlpEndpoint(c, lookup)
	return []string{
		otlpenv.EnvExporters + "=" + strings.Join(exporters, ","),
		otlpenv.EnvVendor + "=" + string(c.Vendor),
		otlpenv.EnvSDKDisabled + "=" + strconv.FormatBool(c.SDKDisabled),
		pair(otlpenv.EnvMetricsProtocol, otlpenv.EnvProtocol, string(c.Protocol)),
		endpoint + "=" + otlpenv.RedactURL(url),
		pair(otlpenv.EnvMetricsHeaders, otlpenv.EnvHeaders, strings.Join(headers, ",")),
		pair(otlpenv.EnvMetricsCompress, otlpenv.EnvCompression, string(c.Compression)),
		otlpenv.EnvTemporality + "=" + string(c.Temporality),
		otlpenv.EnvInterval + "=" + ms(c.Interval),
		pair(otlpenv.EnvMetricsTimeout, otlpenv.EnvTimeout, ms(c.Timeout)),
		otlpenv.EnvExportTimeout + "=" + ms(c.ExportTimeout),
		otlpenv.EnvHistogramAggregation + "=" + c.HistogramAggregation,
		pair(otlpenv.EnvMetricsCertificate, otlpenv.EnvCertificate, c.TLSFiles.CA),
		pair(otlpenv.EnvMetricsClientCertificate, otlpenv.EnvClientCertificate, c.TLSFiles.ClientCert),
		pair(otlpenv.EnvMetricsClientKey, otlpenv.EnvClientKey, c.TLSFiles.ClientKey),
	}
}

// otlpEndpoint names the destination as it was given. The general variable
// is a base URL to which /v1/metrics is added over HTTP, the
// metrics-specific one the full URL: a vendor preset's URL is shown as the
// latter, the specification's default as the former.
func otlpEndpoint(c collector.Config, lookup env.Lookup) (name, value string) {
	switch {
	case env.String(lookup, otlpenv.EnvMetricsEndpoint, "") != "":
		return otlpenv.EnvMetricsEndpoint, c.URL
	case env.String(lookup, otlpenv.EnvEndpoint, "") != "":
		return otlpenv.EnvEndpoint, env.String(lookup, otlpenv.EnvEndpoint, "")
	case c.Vendor != "":
		return otlpenv.EnvMetricsEndpoint, c.URL
	}
	return otlpenv.EnvEndpoint, strings.TrimSuffix(c.URL, "/v1/metrics")
}

// otlpWarnings lists push settings that work but weaken security: a
// client key file that the group or others may read.
func otlpWarnings(c collector.Config, lookup env.Lookup) []string {
	if c.TLS == nil || c.TLSFiles.ClientKey == "" {
		return nil
	}
	loose := credfile.PermissionWarning(c.TLSFiles.ClientKey)
	if loose == "" {
		return nil
	}
	name := otlpenv.FirstSet(lookup, otlpenv.EnvMetricsClientKey, otlpenv.EnvClientKey)
	return []string{name + "=" + c.TLSFiles.ClientKey + ": " + loose}
}
