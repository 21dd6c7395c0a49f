package promexport_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

const acceptProto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

// nativeEndpoint returns the metrics handler of a provider in the given
// histogram mode, with n requests recorded on GET /items/{id} under three
// statuses, and a manual reader standing in for an OTLP push reader.
func nativeEndpoint(t *testing.T, mode otelmetrics.Histograms, n int) (http.Handler, *sdkmetric.ManualReader) {
	t.Helper()
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	cfg.Histograms = mode
	push := sdkmetric.NewManualReader()
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithReader(push))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "missing":
			w.WriteHeader(http.StatusNotFound)
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	h := p.Middleware(mux)
	for i := range n {
		id := []string{"1", "missing", "broken"}[i%3]
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/"+id, nil))
	}
	return p.MetricsHandler(), push
}

func scrapeFamilies(t *testing.T, h http.Handler, accept string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics/prometheus", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	ct := rec.Header().Get("Content-Type")
	body, _ := io.ReadAll(rec.Body)
	dec := expfmt.NewDecoder(strings.NewReader(string(body)), expfmt.Format(ct))
	out := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode %s: %v\n%s", ct, err, body)
		}
		out[mf.GetName()] = &mf
	}
	return out, string(body)
}

// In native mode a protobuf scraper gets http_request_duration_seconds as
// a native histogram (a schema, spans, no classic buckets) whose count per
// method and handler is http_requests_total summed over status; a text
// scraper gets only _count, _sum and le="+Inf", which promtool accepts; the
// SDK hands OTLP readers the exponential histogram itself.
func TestNativeHistogramsOnEveryFormat(t *testing.T) {
	h, push := nativeEndpoint(t, otelmetrics.HistogramsNative, 30)

	fams, _ := scrapeFamilies(t, h, acceptProto)
	hist := fams["http_request_duration_seconds"]
	if hist.GetType() != dto.MetricType_HISTOGRAM || len(hist.GetMetric()) != 1 {
		t.Fatalf("duration family %v", hist)
	}
	nh := hist.GetMetric()[0].GetHistogram()
	if len(nh.GetBucket()) != 0 || len(nh.GetPositiveSpan()) == 0 || nh.Schema == nil || nh.GetSchema() > 8 || nh.GetSchema() < -4 {
		t.Errorf("not a native-only histogram: schema %v, %d classic buckets, spans %v", nh.Schema, len(nh.GetBucket()), nh.GetPositiveSpan())
	}
	var inBuckets uint64
	var running int64
	for _, d := range nh.GetPositiveDelta() {
		running += d
		inBuckets += uint64(running)
	}
	if inBuckets+nh.GetZeroCount() != nh.GetSampleCount() {
		t.Errorf("native buckets hold %d + zero %d, count %d", inBuckets, nh.GetZeroCount(), nh.GetSampleCount())
	}
	var requests float64
	for _, m := range fams["http_requests_total"].GetMetric() {
		requests += m.GetCounter().GetValue()
	}
	if requests != 30 || nh.GetSampleCount() != 30 {
		t.Errorf("http_requests_total sums to %g, histogram count %d, want 30 each", requests, nh.GetSampleCount())
	}

	for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0"} {
		_, text := scrapeFamilies(t, h, accept)
		for _, want := range []string{
			`http_request_duration_seconds_bucket{handler="/items/{id}",method="GET",le="+Inf"} 30`,
			`http_request_duration_seconds_count{handler="/items/{id}",method="GET"} 30`,
			`http_request_duration_seconds_sum{handler="/items/{id}",method="GET"} `,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("Accept %q: no %s in\n%s", accept, want, text)
			}
		}
		if n := strings.Count(text, "http_request_duration_seconds_bucket{"); n != 1 {
			t.Errorf("Accept %q: %d bucket lines, want only +Inf", accept, n)
		}
		if accept == "" {
			promtest.CheckMetrics(t, []byte(text))
		}
	}

	var rm metricdata.ResourceMetrics
	if err := push.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != semconv.InstrumentHTTPServerDuration {
				continue
			}
			e, ok := m.Data.(metricdata.ExponentialHistogram[float64])
			if !ok {
				t.Fatalf("pushed %s as %T, want an exponential histogram", m.Name, m.Data)
			}
			found = true
			var n uint64
			for _, dp := range e.DataPoints {
				n += dp.Count
				if len(dp.PositiveBucket.Counts) > buckets.NativeDefault {
					t.Errorf("%d buckets, above the default bound", len(dp.PositiveBucket.Counts))
				}
			}
			if n != 30 {
				t.Errorf("pushed count %d, want 30", n)
			}
		}
	}
	if !found {
		t.Fatal("no http.server.request.duration for the push reader")
	}
}

// The default stays classic everywhere: the Python gateway's buckets on the scrape in
// every format, explicit buckets to OTLP readers.
func TestClassicHistogramsByDefault(t *testing.T) {
	h, push := nativeEndpoint(t, otelmetrics.DefaultConfig().Histograms, 3)
	fams, _ := scrapeFamilies(t, h, acceptProto)
	ch := fams["http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if len(ch.GetBucket()) != len(buckets.Default()) || ch.Schema != nil {
		t.Errorf("classic mode: %d buckets, schema %v", len(ch.GetBucket()), ch.Schema)
	}
	var rm metricdata.ResourceMetrics
	if err := push.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, ok := m.Data.(metricdata.ExponentialHistogram[float64]); ok {
				t.Errorf("%s is exponential in classic mode", m.Name)
			}
		}
	}
}
