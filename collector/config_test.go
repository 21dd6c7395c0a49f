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
			collector.Config{Prometheus: true, OTLP: true, Vendor: "splunk", Protocol: "http/protobuf", URL: "https://ingest.us1.signalfx.com/v2/datapoint/otlp", Temporality: "delta"}},
		{"newrelic fedramp", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "NEW_RELIC_REGION": "fedramp"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "https://gov-otlp.nr-data.net/v1/metrics", Temporality: "delta", MaxBatch: 5000}},
		{"grafana", map[string]string{"METRICS_OTLP_VENDOR": "grafana", "GRAFANA_CLOUD_OTLP_ENDPOINT": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/",
			"GRAFANA_CLOUD_INSTANCE_ID": "123456", "GRAFANA_CLOUD_TOKEN": "glc_x"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "grafana", Protocol: "http/protobuf", URL: "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/metrics", Temporality: "cumulative"}},
		{"OTEL_SDK_DISABLED turns push off", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "OTEL_SDK_DISABLED": "true"},
			collector.Config{Prometheus: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "https://otlp.nr-data.net/v1/metrics", Temporality: "delta", MaxBatch: 5000}},
		{"newrelic eu", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "NEW_RELIC_REGION": "EU"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "https://otlp.eu01.nr-data.net/v1/metrics", Temporality: "delta", MaxBatch: 5000}},
		{"datadog intake", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "DD_SITE": "datadoghq.eu"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "datadog", Protocol: "http/protobuf", URL: "https://otlp.datadoghq.eu/v1/metrics", Temporality: "delta", MaxBatch: 2000}},
		{"datadog agent", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_AGENT_HOST": "dd-agent"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "datadog", Protocol: "http/protobuf", URL: "http://dd-agent:4318/v1/metrics", Temporality: "delta"}},
		{"prometheus default", map[string]string{"METRICS_OTLP_VENDOR": "prometheus"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "prometheus", Protocol: "http/protobuf", URL: "http://localhost:9090/api/v1/otlp/v1/metrics", Temporality: "cumulative"}},
		{"prometheus server address", map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://prom:9090/"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "prometheus", Protocol: "http/protobuf", URL: "http://prom:9090/api/v1/otlp/v1/metrics", Temporality: "cumulative"}},
		{"prometheus receiver base", map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://prom.example/api/v1/otlp"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "prometheus", Protocol: "http/protobuf", URL: "https://prom.example/api/v1/otlp/v1/metrics", Temporality: "cumulative"}},
		{"prometheus behind a path prefix", map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw.example/prometheus"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "prometheus", Protocol: "http/protobuf", URL: "https://gw.example/prometheus/api/v1/otlp/v1/metrics", Temporality: "cumulative"}},
		{"prometheus metrics endpoint as is", map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://prom:9090/api/v1/otlp/v1/metrics"},
			collector.Config{Prometheus: true, OTLP: true, Vendor: "prometheus", Protocol: "http/protobuf", URL: "http://prom:9090/api/v1/otlp/v1/metrics", Temporality: "cumulative"}},
		{"explicit OTEL wins over the preset", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "https://proxy:4318", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative", "OTEL_METRICS_EXPORTER": "otlp"},
			collector.Config{OTLP: true, Vendor: "newrelic", Protocol: "http/protobuf", URL: "https://proxy:4318/v1/metrics", Temporality: "cumulative", MaxBatch: 5000}},
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
		{map[string]string{"METRICS_OTLP_VENDOR": "honeycomb"}, []string{`invalid METRICS_OTLP_VENDOR="honeycomb": want one of collector, splunk, newrelic, datadog, grafana, prometheus`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"},
			[]string{`invalid OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="delta": Prometheus' OTLP receiver rejects delta data`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "lowmemory"},
			[]string{`invalid OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="lowmemory": Prometheus' OTLP receiver rejects delta data`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			[]string{`invalid OTEL_EXPORTER_OTLP_PROTOCOL="grpc": Prometheus receives OTLP over HTTP only`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "splunk"}, []string{`invalid METRICS_OTLP_VENDOR="splunk": needs SPLUNK_REALM`, "needs SPLUNK_ACCESS_TOKEN"}},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "NEW_RELIC_REGION": "apac"}, []string{`invalid NEW_RELIC_REGION="apac": want us, eu or fedramp`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative"}, []string{"Datadog's OTLP intake accepts only delta"}},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "lowmemory"}, []string{"Datadog's OTLP intake accepts only delta"}},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "DD_SITE": "datadoghq.co"},
			[]string{`invalid DD_SITE="datadoghq.co": want one of datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "DD_SITE": "ddog-gov.com"},
			[]string{`invalid DD_SITE="ddog-gov.com": Datadog's OTLP metrics intake is not offered on ddog-gov.com`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "grafana"}, []string{"needs GRAFANA_CLOUD_OTLP_ENDPOINT", "needs GRAFANA_CLOUD_INSTANCE_ID", "needs GRAFANA_CLOUD_TOKEN"}},
		{map[string]string{"METRICS_OTLP_VENDOR": "grafana", "GRAFANA_CLOUD_OTLP_ENDPOINT": "http://otlp.grafana.net/otlp", "GRAFANA_CLOUD_INSTANCE_ID": "1", "GRAFANA_CLOUD_TOKEN": "t"},
			[]string{`invalid GRAFANA_CLOUD_OTLP_ENDPOINT="http://otlp.grafana.net/otlp": want the stack's https:// OTLP gateway URL`}},
		{map[string]string{"METRICS_OTLP_VENDOR": "grafana", "GRAFANA_CLOUD_OTLP_ENDPOINT": "https://otlp.grafana.net/otlp", "GRAFANA_CLOUD_INSTANCE_ID": "stack", "GRAFANA_CLOUD_TOKEN": "t"},
			[]string{`invalid GRAFANA_CLOUD_INSTANCE_ID="stack": want the stack's numeric instance ID`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential"},
			[]string{`invalid OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION="base2_exponential": want explicit_bucket_histogram or base2_exponential_bucket_histogram`}},
		{map[string]string{"OTEL_SDK_DISABLED": "maybe"}, []string{`OTEL_SDK_DISABLED`}},
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
		if !errors.Is(err, collector.ErrConfig) {
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

func TestHeadersURLDecoded(t *testing.T) {
	c, err := collector.ConfigFromEnv(env.Map(map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "eu01xx-secret-license",
		"OTEL_EXPORTER_OTLP_HEADERS": "x-extra=a%20b"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Headers["X-Extra"] != "a b" {
		t.Errorf("header value not URL-decoded: %q", c.Headers["X-Extra"])
	}
	if c.Headers["Api-Key"] != "eu01xx-secret-license" {
		t.Errorf("preset header: %q", c.Headers["Api-Key"])
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
			"ingest.us1.signalfx.com", "/v2/datapoint/otlp", [2]string{"X-Sf-Token", "sf-token"}, metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA},
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

// A credential goes over plain HTTP only to this machine.
func TestCleartextCredentials(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want string // "" : accepted
	}{
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "nr-secret", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://203.0.113.9:4318"},
			`invalid OTEL_EXPORTER_OTLP_ENDPOINT="http://203.0.113.9:4318": NEW_RELIC_LICENSE_KEY would be sent in cleartext over http://`},
		{map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "sf-secret", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector.internal:4318/v1/metrics"},
			`invalid OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="http://collector.internal:4318/v1/metrics": SPLUNK_ACCESS_TOKEN would be sent`},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20secret", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel.example.com"},
			`invalid OTEL_EXPORTER_OTLP_ENDPOINT="http://otel.example.com": OTEL_EXPORTER_OTLP_HEADERS would be sent`},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_AGENT_HOST": "dd-agent", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-tenant=a"},
			`invalid METRICS_OTLP_VENDOR="datadog": OTEL_EXPORTER_OTLP_METRICS_HEADERS would be sent`},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "k", "OTEL_EXPORTER_OTLP_HEADERS": "x-a=1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.0.0.1:4318"},
			"NEW_RELIC_LICENSE_KEY and OTEL_EXPORTER_OTLP_HEADERS would be sent"},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4318"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://LOCALHOST:4318"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1"}, ""}, // the default, localhost
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel.example.com"}, ""}, // no credential
	}
	for _, tt := range tests {
		_, err := collector.ConfigFromEnv(env.Map(tt.vars))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.vars, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: error %v, want %q", tt.vars, err, tt.want)
		case err != nil && (strings.Contains(err.Error(), "secret") || strings.Count(err.Error(), "\n") > 0):
			t.Errorf("%v: the error shows the secret or is more than one line: %v", tt.vars, err)
		}
	}
}

// Header names are one header whatever their case, the explicit OTEL_*
// variable wins on every load, and values a transport would refuse are
// refused at start.
func TestHeaderNames(t *testing.T) {
	vars := map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "from-preset",
		"OTEL_EXPORTER_OTLP_HEADERS": "x-sf-token=from-env,X-Other=1", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-OTHER=2"}
	for range 20 { // map order differs from load to load
		c, err := collector.ConfigFromEnv(env.Map(vars))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Headers) != 2 || c.Headers["X-Sf-Token"] != "from-env" || c.Headers["X-Other"] != "2" {
			t.Fatalf("headers %v", c.Headers)
		}
	}
	bad := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=line%0Abreak"}, "invalid OTEL_EXPORTER_OTLP_HEADERS=(hidden): the value of x-a contains a control character"},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-a=nul%00"}, "invalid OTEL_EXPORTER_OTLP_METRICS_HEADERS=(hidden): the value of x-a contains a control character"},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x a=1"}, `"x a" is not a valid header name`},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=1,X-A=2"}, "header X-A is given twice"},
		{map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "key\r\nX-Injected: 1"}, "invalid NEW_RELIC_LICENSE_KEY=(hidden): contains a control character"},
		{map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "key\x7f"}, "invalid DD_API_KEY=(hidden)"},
	}
	for _, tt := range bad {
		_, err := collector.ConfigFromEnv(env.Map(tt.vars))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.vars, err, tt.want)
		}
	}
}

// Credentials in the URL are refused without being echoed, and what is
// printed of a URL never carries a key.
func TestURLCredentials(t *testing.T) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		_, err := collector.ConfigFromEnv(env.Map(map[string]string{name: "https://user:pa55word@otel.example.com"}))
		if err == nil || !strings.Contains(err.Error(), "invalid "+name+`="https://xxxxx@otel.example.com": credentials in the URL are not supported`) ||
			strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "user") {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := collector.ConfigFromEnv(env.Map(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "otel@pa55word:4318"}))
	if err == nil || strings.Contains(err.Error(), "pa55word") {
		t.Errorf("unparsable URL with @: %v", err)
	}
}
