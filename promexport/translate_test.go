package promexport

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Points of other boundaries than the series' are folded in bucket by
// bucket, each count into the first bucket that holds its upper bound, so
// no request is lost and the count and sum stay exact.
func TestMergeOtherBoundaries(t *testing.T) {
	now := time.Now()
	var m mergedHistograms[string]
	first := metricdata.HistogramDataPoint[float64]{
		StartTime: now, Time: now, Count: 3, Sum: 1.2,
		Bounds: []float64{0.1, 0.5, 1}, BucketCounts: []uint64{1, 1, 1, 0},
	}
	other := metricdata.HistogramDataPoint[float64]{
		StartTime: now, Time: now, Count: 6, Sum: 9,
		Bounds: []float64{0.05, 0.5, 2}, BucketCounts: []uint64{1, 2, 1, 2},
	}
	for _, dp := range []metricdata.HistogramDataPoint[float64]{first, other} {
		a, _ := m.acc("k", dp, false)
		a.add(dp, nil)
	}
	got := m.histogram().DataPoints[0]
	// 0.05 → le 0.1; 0.5 → le 0.5; 2 → +Inf; +Inf → +Inf.
	want := []uint64{1 + 1, 1 + 2, 1, 0 + 1 + 2}
	if got.Count != 9 || got.Sum != 10.2 {
		t.Errorf("count %d sum %g, want 9 and 10.2", got.Count, got.Sum)
	}
	for i := range want {
		if got.BucketCounts[i] != want[i] {
			t.Fatalf("buckets %v, want %v", got.BucketCounts, want)
		}
	}
}

// The method label of a point recorded by any instrumentation is its
// http.request.method when that is exactly a standard method, else
// _OTHER: an instrumentation that passes the raw method on ("get") cannot
// add to the GET series, as the bridge's middleware cannot.
func TestMethodLabelIsExact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"standard", "GET", "GET"},
		{"other standard", "PATCH", "PATCH"},
		{"lower case", "get", "_OTHER"},
		{"mixed case", "Delete", "_OTHER"},
		{"unknown", "PROPFIND", "_OTHER"},
		{"already other", "_OTHER", "_OTHER"},
		{"none recorded", "", "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := methodLabel(tc.in); got != tc.want {
				t.Errorf("methodLabel(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Text scrapes carry no starts and note none; the first protobuf scrape
// turns the noting on.
func TestTextScrapesNoteNoStarts(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(t.Context()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.Reader()))
	c, err := mp.Meter("test").Int64Counter("jobs")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 1)
	noted := func() int {
		st := e.source.tr.starts
		st.mu.RLock()
		defer st.mu.RUnlock()
		return len(st.byKey)
	}
	scrape := func(accept string) {
		r := httptest.NewRequest("GET", "/metrics/prometheus", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("scrape (%s): %d", accept, w.Code)
		}
	}
	for _, accept := range []string{"", "text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0"} {
		scrape(accept)
	}
	if n := noted(); n != 0 {
		t.Fatalf("%d starts noted after text scrapes, want 0", n)
	}
	scrape("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	if n := noted(); n == 0 {
		t.Fatal("no start noted after a protobuf scrape")
	}
}
