package dashboard_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

// TestClassicQuantileIsHistogramQuantile serves constructed bucket counts
// as a Prometheus histogram, lets a real Prometheus scrape them, and
// compares histogram_quantile with Classic.Quantile on the same buckets.
// They must agree to the last bits, special cases included.
func TestClassicQuantileIsHistogramQuantile(t *testing.T) {
	cases := []dashboard.Classic{
		{Bounds: testBounds, Counts: []uint64{80, 0, 0, 60, 0, 20, 0, 0, 0, 0, 0, 0}},
		{Bounds: testBounds, Counts: []uint64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233}},
		{Bounds: testBounds, Counts: []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}},
		{Bounds: testBounds, Counts: []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
		{Bounds: []float64{0.1, 0.5, 1}, Counts: []uint64{997, 2, 1, 0}},
		{Bounds: []float64{0.1, 0.5, 1}, Counts: []uint64{0, 50, 50, 0}},
		{Bounds: []float64{0.25}, Counts: []uint64{3, 1}},
	}
	var text strings.Builder
	text.WriteString("# HELP h constructed\n# TYPE h histogram\n")
	for i, c := range cases {
		var cum uint64
		for j, b := range c.Bounds {
			cum += c.Counts[j]
			fmt.Fprintf(&text, "h_bucket{case=\"%d\",le=\"%s\"} %d\n", i, strconv.FormatFloat(b, 'g', -1, 64), cum)
		}
		cum += c.Counts[len(c.Bounds)]
		fmt.Fprintf(&text, "h_bucket{case=\"%d\",le=\"+Inf\"} %d\nh_sum{case=\"%d\"} 0\nh_count{case=\"%d\"} %d\n", i, cum, i, i, cum)
	}
	body := text.String()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(target.Close)
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: constructed
    static_configs:
      - targets: [`+strings.TrimPrefix(target.URL, "http://")+`]
`)
	prom.WaitFor(t, `count(h_count)`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 && int(s[0].Value) == len(cases) })
	for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		res, err := prom.Query(fmt.Sprintf(`histogram_quantile(%g, h_bucket)`, q))
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != len(cases) {
			t.Fatalf("q=%g: %d results, want %d", q, len(res), len(cases))
		}
		for _, r := range res {
			i, _ := strconv.Atoi(r.Metric["case"])
			got := cases[i].Quantile(q)
			// The API writes values with 'f', -1 precision, which
			// round-trips a float64 exactly.
			if !(got == r.Value || math.IsNaN(got) && math.IsNaN(r.Value)) {
				t.Errorf("case %d, q=%g: Classic %v, histogram_quantile %v", i, q, got, r.Value)
			}
		}
	}
}

// TestExponentialQuantileIsHistogramQuantile serves constructed exponential
// histograms as Prometheus native histograms over protobuf, lets a real
// Prometheus 3 scrape them, and compares histogram_quantile with
// Exponential.Quantile: equal to the last bit, ties on bucket edges, zero
// buckets, negative buckets and schemas from -4 to 8 (and a finer one,
// which both read at 8) included.
func TestExponentialQuantileIsHistogramQuantile(t *testing.T) {
	cases := []dashboard.Exponential{
		// One fast and one slow request: the median is a tie.
		{Scale: 0, PositiveOffset: -7, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{Scale: 3, PositiveOffset: -60, Positive: []uint64{5, 0, 0, 0, 5, 0, 10}},
		{Scale: 8, PositiveOffset: -1900, Positive: []uint64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233}},
		{Scale: 5, PositiveOffset: 17, Positive: []uint64{997, 0, 2, 1}},
		{Scale: -4, PositiveOffset: -3, Positive: []uint64{4, 4}},
		{Scale: 2, ZeroThreshold: 0.001, ZeroCount: 10, PositiveOffset: -20, Positive: []uint64{10}},
		{Scale: 1, ZeroThreshold: 0.001, ZeroCount: 7},
		{Scale: 0, ZeroThreshold: 0.75, ZeroCount: 2, PositiveOffset: -1, Positive: []uint64{4, 0, 2}},
		{Scale: 4, NegativeOffset: 3, Negative: []uint64{6, 0, 2}, ZeroCount: 1, PositiveOffset: -5, Positive: []uint64{3, 3}},
		{Scale: 11, PositiveOffset: 5000, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}},
	}
	// Prometheus refuses schemas above 8: the last case is served as the
	// exporter serves it, coarsened to schema 8 (eight buckets become one).
	served := slices.Clone(cases)
	served[len(served)-1] = dashboard.Exponential{Scale: 8, PositiveOffset: 625, Positive: []uint64{1, 1, 2}}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	enc := expfmt.NewEncoder(&buf, format)
	mf := &dto.MetricFamily{Name: proto.String("h"), Help: proto.String("constructed"), Type: dto.MetricType_HISTOGRAM.Enum()}
	for i, c := range served {
		mf.Metric = append(mf.Metric, &dto.Metric{
			Label:     []*dto.LabelPair{{Name: proto.String("case"), Value: proto.String(strconv.Itoa(i))}},
			Histogram: nativeHistogram(c),
		})
	}
	if err := enc.Encode(mf); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", string(format))
		_, _ = w.Write(body)
	}))
	t.Cleanup(target.Close)
	prom := promtest.Start(t, `
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: constructed
    scrape_native_histograms: true
    static_configs:
      - targets: [`+strings.TrimPrefix(target.URL, "http://")+`]
`)
	prom.WaitFor(t, `count(histogram_count(h))`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 && int(s[0].Value) == len(cases) })
	for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.4999, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1} {
		res, err := prom.Query(fmt.Sprintf(`histogram_quantile(%g, h)`, q))
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != len(cases) {
			t.Fatalf("q=%g: %d results, want %d", q, len(res), len(cases))
		}
		for _, r := range res {
			i, _ := strconv.Atoi(r.Metric["case"])
			got := cases[i].Quantile(q)
			if !(got == r.Value || math.IsNaN(got) && math.IsNaN(r.Value)) {
				t.Errorf("case %d, q=%g: Exponential %v, histogram_quantile %v", i, q, got, r.Value)
			}
		}
	}
}

// nativeHistogram encodes e as a Prometheus native histogram: OTel bucket
// i is Prometheus bucket i+1, and counts are deltas from bucket to bucket.
func nativeHistogram(e dashboard.Exponential) *dto.Histogram {
	spans := func(off int32, counts []uint64) ([]*dto.BucketSpan, []int64) {
		if len(counts) == 0 {
			return nil, nil
		}
		deltas := make([]int64, len(counts))
		var prev int64
		for i, c := range counts {
			deltas[i] = int64(c) - prev
			prev = int64(c)
		}
		return []*dto.BucketSpan{{Offset: proto.Int32(off + 1), Length: proto.Uint32(uint32(len(counts)))}}, deltas
	}
	h := &dto.Histogram{SampleCount: proto.Uint64(e.Total()), SampleSum: proto.Float64(1), Schema: proto.Int32(e.Scale),
		ZeroThreshold: proto.Float64(e.ZeroThreshold), ZeroCount: proto.Uint64(e.ZeroCount)}
	h.PositiveSpan, h.PositiveDelta = spans(e.PositiveOffset, e.Positive)
	h.NegativeSpan, h.NegativeDelta = spans(e.NegativeOffset, e.Negative)
	return h
}
