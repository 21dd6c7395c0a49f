package dashboard_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

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
