package collector_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Each preset pushed to a loopback intake standing in for the vendor's
// host, which checks what the vendor's page requires of every export:
// path, host, headers, temporality, min and max on delta histograms,
// bucket count and payload size. The load has enough series, each with
// exemplars, to exceed the payload limits in one request, and every count
// arrives exactly once.
func TestVendorIntakes(t *testing.T) {
	const series = 1500
	tests := []struct {
		name  string
		vars  map[string]string
		rules otlptest.Rules
		// split: the load must take more than one request.
		split bool
	}{
		{"datadog", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "dd-key", "DD_SITE": "datadoghq.eu"},
			// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/
			otlptest.Rules{Host: "otlp.datadoghq.eu", Path: "/v1/metrics", Headers: map[string]string{"dd-api-key": "dd-key"},
				Delta: true, MinMax: true, MaxBytes: 500_000}, true},
		{"newrelic", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "nr-key", "NEW_RELIC_REGION": "fedramp"},
			// https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/
			otlptest.Rules{Host: "gov-otlp.nr-data.net", Path: "/v1/metrics", Headers: map[string]string{"api-key": "nr-key"},
				Delta: true, MaxBytes: 1_000_000}, true},
		{"splunk", map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "eu0", "SPLUNK_ACCESS_TOKEN": "sf-token"},
			// https://docs.splunk.com/observability/en/data-visualization/charts/histograms.html
			otlptest.Rules{Host: "ingest.eu0.signalfx.com", Path: "/v2/datapoint/otlp", Headers: map[string]string{"X-SF-Token": "sf-token"},
				Delta: true, MinMax: true, MaxBuckets: 31}, false},
		{"grafana", map[string]string{"METRICS_OTLP_VENDOR": "grafana", "GRAFANA_CLOUD_OTLP_ENDPOINT": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
			"GRAFANA_CLOUD_INSTANCE_ID": "123456", "GRAFANA_CLOUD_TOKEN": "glc_token"},
			// https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/
			otlptest.Rules{Host: "otlp-gateway-prod-us-east-0.grafana.net", Path: "/otlp/v1/metrics",
				Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("123456:glc_token"))}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := otlptest.NewSink(t, true)
			cfg, err := collector.ConfigFromEnv(env.Map(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Interval = time.Hour
			p, err := collector.New(t.Context(), cfg, collector.WithHTTPClient(sink.Client()),
				collector.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				t.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.Reader()), sdkmetric.WithView(sdkmetric.NewView(
				sdkmetric.Instrument{Name: mbsemconv.InstrumentHTTPServerDuration},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: buckets.Default()}})))
			defer mp.Shutdown(context.Background())
			hist, _ := mp.Meter("test").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithUnit("s"))
			count, _ := mp.Meter("test").Int64Counter("requests")
			var recorded int64
			for interval := range 2 {
				for i := range series {
					attrs := metric.WithAttributes(attribute.String("http.route", fmt.Sprintf("/api/v1/resources/{id}/items/%d", i)),
						attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200))
					for j, v := range []float64{0.003, 0.07, 0.6, 3} {
						hist.Record(sampled(i*8+j+interval), v, attrs)
						recorded++
					}
					count.Add(context.Background(), 1, attrs)
				}
				if err := mp.ForceFlush(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			for _, v := range sink.Violations(tc.rules) {
				t.Error(v)
			}
			reqs := sink.Requests()
			if tc.split && len(reqs) < 3 {
				t.Errorf("%d requests for two exports: the payload limit did not split them", len(reqs))
			}
			if got := sink.Total(mbsemconv.InstrumentHTTPServerDuration); got != recorded {
				t.Errorf("the intake counts %d measurements, %d were recorded", got, recorded)
			}
			if got := sink.Total("requests"); got != 2*series {
				t.Errorf("the intake counts %d requests, %d were made", got, 2*series)
			}
			biggest := 0
			for _, r := range reqs {
				biggest = max(biggest, r.Size)
			}
			t.Logf("%d requests, the largest %d bytes uncompressed", len(reqs), biggest)
			if tc.name == "datadog" {
				// The translator settings the page documents: resource
				// attributes as tags (replicas apart), distributions.
				var conf struct {
					ResourceAttributesAsTags bool `json:"resource_attributes_as_tags"`
					Histograms               struct {
						Mode                   string `json:"mode"`
						SendAggregationMetrics bool   `json:"send_aggregation_metrics"`
					} `json:"histograms"`
				}
				if err := json.Unmarshal([]byte(reqs[0].Header.Get("dd-otel-metric-config")), &conf); err != nil ||
					!conf.ResourceAttributesAsTags || conf.Histograms.Mode != "distributions" || !conf.Histograms.SendAggregationMetrics {
					t.Errorf("dd-otel-metric-config %q: %+v %v", reqs[0].Header.Get("dd-otel-metric-config"), conf, err)
				}
			}
		})
	}
}
