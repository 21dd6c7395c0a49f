package collector_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want collector.Config
	}{
		{"defaults", nil, collector.Config{Prometheus: true, Protocol: "http/protobuf", URL: "http://localhost:4318/v1/metrics", Temporality: "cumulative"}},
		{"generic endpoint gets the signal path", map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"},
			collector.Config{OTLP: true, Protocol: "http/protobuf", URL: "http://c:4318/v1/metrics", Temporality: "cumulative"}},
		{"signal endpoint is used as is", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://b/custom"},
			collector.Config{Prometheus: true, Protocol: "http/protobuf", URL: "https://b/custom", Temporality: "cumulative"}},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, collector.Config{Prometheus: true, Protocol: "grpc", URL: "http://localhost:4317", Temporality: "cumulative"}},
		{"splunk", map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "t"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "splunk", Protocol: "http/protobuf", URL: "https://ingest.us1.signalfx.com/v2/datapoint/otlp", Temporality: "cumulative"}},
		{"newrelic eu", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "NEW_RELIC_REGION": "EU"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "https://otlp.eu01.nr-data.net/v1/metrics", Temporality: "delta", MaxBatch: 5000}},
		{"datadog intake", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "DD_SITE": "datadoghq.eu"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "datadog", Protocol: "http/protobuf", URL: "https://otlp.datadoghq.eu/v1/metrics", Temporality: "delta", MaxBatch: 2000}},
		{"datadog agent", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_AGENT_HOST": "dd-agent"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "datadog", Protocol: "http/protobuf", URL: "http://dd-agent:4318/v1/metrics", Temporality: "delta"}},
		{"explicit OTEL wins over the preset", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://proxy:4318", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative", "OTEL_METRICS_EXPORTER": "otlp"},
			collector.Config{OTLP: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "http://proxy:4318/v1/metrics", Temporality: "cumulative", MaxBatch: 5000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := collector.ConfigFromEnv(env.Map(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			got := c
			got.Headers, got.Compression, got.Timeout, got.Interval, got.ExportTimeout = nil, "", 0, 0, 0
			if got.Prometheus != tt.want.Prometheus || got.OTLP != tt.want.OTLP || got.Vendor != tt.want.Vendor || got.Protocol != tt.want.Protocol ||
				got.URL != tt.want.URL || got.Temporality != tt.want.Temporality || got.MaxBatch != tt.want.MaxBatch {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if c.Compression != "gzip" || c.Timeout != 10*time.Second || c.Interval != time.Minute || c.ExportTimeout != 30*time.Second {
				t.Errorf("defaults: %s %s %s %s", c.Compression, c.Timeout, c.Interval, c.ExportTimeout)
			}
		})
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want []string
	}{
		{map[string]string{"METRICS_OTLP_VENDOR": "honeycomb"}, []string{`invalid METRICS_OTLP_VENDOR="honeycomb": want one of collector, splunk, newrelic, datadog`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "splunk"}, []string{`invalid METRICS_OTLP_VENDOR="splunk": needs SPLUNK_REALM`, "needs SPLUNK_ACCESS_TOKEN"}},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "NEW_RELIC_REGION": "apac"}, []string{`invalid NEW_RELIC_REGION="apac": want us or eu`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative"}, []string{"Datadog's OTLP intake refuses cumulative"}},
		{map[string]string{"OTEL_METRICS_EXPORTER": "prometheus,zipkin"}, []string{`unknown exporter "zipkin"`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, []string{`invalid OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, []string{`invalid OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": want an http:// or https:// URL`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "api-key"}, []string{`invalid OTEL_EXPORTER_OTLP_HEADERS=(hidden): item 1 is not key=value`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, []string{`invalid OTEL_EXPORTER_OTLP_COMPRESSION="zstd": want gzip or none`}},
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "1m"}, []string{`invalid OTEL_METRIC_EXPORT_INTERVAL="1m": want a positive number of milliseconds`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes", "OTEL_EXPORTER_OTLP_TIMEOUT": "-5"},
			[]string{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"}},
	}
	for _, tt := range tests {
		_, err := collector.ConfigFromEnv(env.Map(tt.vars))
		if !errors.Is(err, env.ErrInvalid) {
			t.Errorf("%v: error %v", tt.vars, err)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tt.want) {
			t.Errorf("%v: %d lines, want %d:\n%v", tt.vars, len(lines), len(tt.want), err)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("%v: line %q lacks %q", tt.vars, lines[i], w)
			}
		}
	}
}

func TestSettingsMaskHeaders(t *testing.T) {
	c, err := collector.ConfigFromEnv(env.Map(map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "eu01xx-secret-license",
		"OTEL_EXPORTER_OTLP_HEADERS": "x-extra=a%20b"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Headers["x-extra"] != "a b" {
		t.Errorf("header value not URL-decoded: %q", c.Headers["x-extra"])
	}
	s := strings.Join(c.Settings(), "\n")
	if strings.Contains(s, "secret-license") || !strings.Contains(s, "otlp.headers=api-key=(hidden, 21 bytes),x-extra=(hidden, 3 bytes)") {
		t.Errorf("settings:\n%s", s)
	}
}

// Each vendor preset, pushed to a loopback TLS listener standing in for the
// vendor's host: the documented path, host, auth header, compression and
// temporality arrive.
func TestVendorPresetsOnTheWire(t *testing.T) {
	tests := []struct {
		vars        map[string]string
		host, path  string
		header      [2]string
		temporality metricpb.AggregationTemporality
	}{
		{map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "sf-token"},
			"ingest.us1.signalfx.com", "/v2/datapoint/otlp", [2]string{"X-Sf-Token", "sf-token"}, metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "nr-key"},
			"otlp.nr-data.net", "/v1/metrics", [2]string{"Api-Key", "nr-key"}, metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "nr-key", "NEW_RELIC_REGION": "eu"},
			"otlp.eu01.nr-data.net", "/v1/metrics", [2]string{"Api-Key", "nr-key"}, metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "dd-key", "DD_SITE": "us5.datadoghq.com"},
			"otlp.us5.datadoghq.com", "/v1/metrics", [2]string{"Dd-Api-Key", "dd-key"}, metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			sink := otlptest.NewSink(t, true)
			cfg, err := collector.ConfigFromEnv(env.Map(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Interval = time.Hour
			p, err := collector.New(t.Context(), cfg, collector.WithHTTPClient(sink.Client()),
				collector.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				t.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.Reader()))
			defer mp.Shutdown(context.Background())
			c, _ := mp.Meter("test").Int64Counter("requests")
			c.Add(t.Context(), 3)
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			c.Add(t.Context(), 4, metric.WithAttributes())
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			reqs := sink.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests arrived, want 2", len(reqs))
			}
			r := reqs[0]
			if r.Host != tt.host || r.Path != tt.path || r.Header.Get(tt.header[0]) != tt.header[1] ||
				r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/x-protobuf" {
				t.Errorf("arrived: host %s path %s headers %v", r.Host, r.Path, r.Header)
			}
			points, temps := sink.Points("requests")
			if len(points) != 2 || temps[0] != tt.temporality {
				t.Fatalf("points %v temporality %v, want %v", points, temps, tt.temporality)
			}
			if got := sink.Total("requests"); got != 7 {
				t.Errorf("total %d, want 7", got)
			}
		})
	}
}
