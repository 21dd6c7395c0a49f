package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
)

// otlpSettings returns the effective push configuration as NAME=value
// lines for check, with header values masked.
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
	return []string{
		otlpenv.EnvExporters + "=" + strings.Join(exporters, ","),
		otlpenv.EnvVendor + "=" + string(c.Vendor),
		otlpenv.EnvSDKDisabled + "=" + strconv.FormatBool(c.SDKDisabled),
		"otlp.protocol=" + string(c.Protocol),
		"otlp.url=" + otlpenv.RedactURL(c.URL),
		"otlp.headers=" + strings.Join(headers, ","),
		"otlp.compression=" + string(c.Compression),
		"otlp.temporality=" + string(c.Temporality),
		"otlp.interval=" + c.Interval.String(),
		"otlp.timeout=" + c.Timeout.String(),
		"otlp.histogram_aggregation=" + c.HistogramAggregation,
		"otlp.certificate=" + c.TLSFiles.CA,
		"otlp.client_certificate=" + c.TLSFiles.ClientCert,
		"otlp.client_key=" + c.TLSFiles.ClientKey,
	}
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
