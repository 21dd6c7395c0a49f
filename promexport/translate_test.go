package promexport

import (
	"testing"
	"time"

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
