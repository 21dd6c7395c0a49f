package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// serve pushes to a real Collector, and SIGTERM pushes what the last
// interval had not: every request answered before shutdown arrives.
func TestServePushesOnShutdown(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	col := otlptest.StartCollector(t, sink)
	vars := map[string]string{
		"PORT": "0", "ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": col.Endpoint,
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
		// Far longer than the test: only the shutdown push can deliver.
		"OTEL_METRIC_EXPORT_INTERVAL": "3600000",
		"OTEL_SERVICE_NAME":           "gateway-e2e",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &logbuf.Buffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve"}, strings.NewReader(""), &bytes.Buffer{}, stderr, env.Map(vars))
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := gatewayRE.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no start-up line:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "otlp=\""+col.Endpoint+"/v1/metrics (delta, every 1h0m0s)\"") {
		t.Errorf("start-up line does not name the OTLP destination:\n%s", stderr)
	}
	const n = 30
	for i := range n {
		if i%3 == 0 {
			post(t, base+"/tools/invoke", `{"tool":"fail"}`, 500)
			continue
		}
		post(t, base+"/tools/invoke", `{"tool":"echo"}`, 200)
	}
	if got := sink.Total(mbsemconv.InstrumentHTTPServerDuration); got != 0 {
		t.Fatalf("%d requests pushed before shutdown; the interval should not have fired", got)
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	sink.WaitTotal(t, mbsemconv.InstrumentHTTPServerDuration, n, 20*time.Second)
	for _, r := range sink.Requests() {
		for _, rm := range r.Metrics.ResourceMetrics {
			for _, a := range rm.Resource.Attributes {
				if a.Key == "service.name" && a.Value.GetStringValue() != "gateway-e2e" {
					t.Errorf("service.name = %s, want OTEL_SERVICE_NAME's", a.Value)
				}
			}
		}
	}
}

// A key in the OTLP URL's query is masked wherever the URL is printed:
// check, the start-up line and the export failure log.
func TestOTLPURLRedacted(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	sink.SetReply(func(n int) otlptest.Reply {
		if n == 1 {
			return otlptest.Reply{Status: 400}
		}
		return otlptest.Reply{}
	})
	url := sink.URL() + "/v1/metrics?api-key=s3cret-in-query"
	vars := map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "OTEL_METRICS_EXPORTER": "prometheus,otlp",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url, "OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_METRIC_EXPORT_TIMEOUT": "500"}
	code, out, errOut := cli(t, vars, "", "check")
	if code != 0 || strings.Contains(out+errOut, "s3cret") || !strings.Contains(out, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="+sink.URL()+"/v1/metrics?api-key=xxxxx") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	b := startBridge(t, vars)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(b.stderr.String(), "OTLP export failed") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if l := b.stderr.String(); strings.Contains(l, "s3cret") || !strings.Contains(l, "OTLP export failed") || !strings.Contains(l, "api-key=xxxxx") {
		t.Errorf("log:\n%s", l)
	}
}

// check prints the OTLP TLS files (paths only) and the Grafana Cloud
// preset's endpoint, never the token or the basic-auth header it makes.
func TestCheckPrintsOTLPSettings(t *testing.T) {
	pki := otlptest.NewPKI(t)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"check"}, strings.NewReader(""), &stdout, &stderr, env.Map(map[string]string{
		"METRICS_OTLP_VENDOR": "grafana", "GRAFANA_CLOUD_OTLP_ENDPOINT": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
		"GRAFANA_CLOUD_INSTANCE_ID": "123456", "GRAFANA_CLOUD_TOKEN": "glc_s3cr3t-token",
		"OTEL_EXPORTER_OTLP_CERTIFICATE": pki.CA, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE": pki.ClientCert,
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": pki.ClientKey,
	}))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"METRICS_OTLP_VENDOR=grafana\n", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/metrics\n",
		"OTEL_EXPORTER_OTLP_HEADERS=Authorization=(hidden, ", "OTEL_EXPORTER_OTLP_CERTIFICATE=" + pki.CA + "\n", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE=" + pki.ClientCert + "\n",
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=" + pki.ClientKey + "\n", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative\n",
		"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=explicit_bucket_histogram\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "Basic") || strings.Contains(out, "BEGIN") {
		t.Errorf("check prints a secret:\n%s", out)
	}
}

// OTEL_SDK_DISABLED=true turns push off whatever else asks for it; the
// scrape endpoint stays on, governed by ENABLE_METRICS.
func TestSDKDisabledTurnsPushOff(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL(), "OTEL_SDK_DISABLED": "true"})
	if !strings.Contains(b.stderr.String(), "otlp=off") {
		t.Errorf("start-up line does not say push is off:\n%s", b.stderr)
	}
	if resp := mustGet(t, b.metrics, nil); resp.StatusCode != 200 {
		t.Errorf("scrape endpoint: %d", resp.StatusCode)
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := len(sink.Arrivals()); n != 0 {
		t.Errorf("%d exports arrived with OTEL_SDK_DISABLED=true", n)
	}
}

// METRICS_OTLP_VENDOR=prometheus with OTEL_METRICS_EXPORTER=otlp: serve
// pushes the scrape's series to the server's OTLP receiver, with no scrape
// endpoint, and the requests before SIGTERM arrive; delta is refused at
// start, naming the variable.
func TestServePushesIntoPrometheus(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	vars := map[string]string{
		"PORT": "0", "ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"OTEL_METRICS_EXPORTER": "otlp", "METRICS_OTLP_VENDOR": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL(),
		"OTEL_METRIC_EXPORT_INTERVAL": "3600000",
	}
	t.Run("delta refused", func(t *testing.T) {
		bad := map[string]string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"}
		for k, v := range vars {
			bad[k] = v
		}
		stderr := &logbuf.Buffer{}
		if code := run(t.Context(), []string{"serve"}, strings.NewReader(""), &bytes.Buffer{}, stderr, env.Map(bad)); code != exitConfig {
			t.Errorf("exit %d, want %d:\n%s", code, exitConfig, stderr)
		}
		if !strings.Contains(stderr.String(), `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="delta": Prometheus' OTLP receiver rejects delta data`) {
			t.Errorf("the error does not name the variable and the reason:\n%s", stderr)
		}
	})
	b := startBridge(t, vars)
	if !strings.Contains(b.stderr.String(), "otlp=\""+sink.URL()+"/api/v1/otlp/v1/metrics (cumulative, every 1h0m0s)\"") {
		t.Errorf("start-up line does not name the OTLP receiver:\n%s", b.stderr)
	}
	const n = 6
	for range n {
		post(t, b.base+"/tools/invoke", `{"tool":"echo"}`, 200)
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, b.stderr)
	}
	sink.WaitTotal(t, mbsemconv.NameRequests, n, 20*time.Second)
	if got := sink.Total(mbsemconv.InstrumentHTTPServerDuration); got != 0 {
		t.Errorf("%d points of %s pushed: Prometheus would store a second set of series", got, mbsemconv.InstrumentHTTPServerDuration)
	}
	// The bridge's own series go along, under the scrape's names.
	if points, _ := sink.Points("metricsbridge_otlp_exports"); len(points) == 0 {
		t.Error("metricsbridge_otlp_exports was not pushed")
	}
	for _, r := range sink.Requests() {
		if r.Path != "/api/v1/otlp/v1/metrics" {
			t.Errorf("pushed to %s, want Prometheus' OTLP receiver", r.Path)
		}
	}
}
