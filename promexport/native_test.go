package promexport

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// expPoint builds the exponential point the SDK would record for values at
// scale: each value in the bucket expIndex gives it.
func expPoint(values []float64, scale int32) metricdata.ExponentialHistogramDataPoint[float64] {
	var b expBuckets
	dp := metricdata.ExponentialHistogramDataPoint[float64]{Scale: scale, StartTime: time.Unix(1, 0), Time: time.Unix(2, 0)}
	for _, v := range values {
		dp.Count++
		dp.Sum += v
		if v == 0 {
			dp.ZeroCount++
			continue
		}
		b.add(expIndex(v, scale), []uint64{1}, 0)
	}
	dp.PositiveBucket = metricdata.ExponentialBucket{Offset: b.offset, Counts: b.counts}
	return dp
}

// Points of different scales merge at the coarsest one, each value in the
// bucket it would have had if recorded at that scale from the start; the
// count, the sum and the counts per status stay exact.
func TestMergeExponentialScales(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var all []float64
		var a *histAcc
		var m mergedHistograms[string]
		statusCount := map[string]uint64{}
		for p := range 1 + rng.IntN(5) {
			n := rng.IntN(40)
			values := make([]float64, n)
			for i := range values {
				// 0.1 ms to 100 s, and some exact zeros.
				values[i] = math.Pow(10, -4+6*rng.Float64())
				if rng.IntN(50) == 0 {
					values[i] = 0
				}
			}
			dp := expPoint(values, int32(rng.IntN(14))-2)
			status := []string{"200", "404", "500"}[p%3]
			a, _ = m.accExp("k", dp, true)
			a.addExp(dp, &instrLabels{status: status}, 1<<20)
			statusCount[status] += uint64(n)
			all = append(all, values...)
		}
		got := m.exponential().DataPoints[0]
		want := expPoint(all, got.Scale)
		if got.Count != uint64(len(all)) || got.ZeroCount != want.ZeroCount || math.Abs(got.Sum-want.Sum) > 1e-9*math.Abs(want.Sum) {
			t.Fatalf("trial %d: count %d zero %d sum %g, want %d %d %g", trial, got.Count, got.ZeroCount, got.Sum, len(all), want.ZeroCount, want.Sum)
		}
		if trimmed(got.PositiveBucket) != trimmed(want.PositiveBucket) {
			t.Fatalf("trial %d: scale %d buckets %v, want %v", trial, got.Scale, got.PositiveBucket, want.PositiveBucket)
		}
		if got.Scale > maxNativeScale {
			t.Fatalf("trial %d: scale %d above Prometheus' %d", trial, got.Scale, maxNativeScale)
		}
		byStatus := map[string]uint64{}
		for _, s := range a.statuses {
			byStatus[s.status] += s.count
		}
		if !maps.Equal(byStatus, statusCount) {
			t.Fatalf("trial %d: statuses counted %v, want %v", trial, byStatus, statusCount)
		}
	}
}

// trimmed renders the buckets without zero counts at either end, which do
// not change what they hold.
func trimmed(b metricdata.ExponentialBucket) string {
	var e expBuckets
	e.add(b.Offset, b.Counts, 0)
	return fmt.Sprintf("%d:%v", e.offset, e.counts)
}

// A series merged from points whose ranges lie far apart is downscaled
// until each sign fits the bucket bound, as the SDK does within a point.
func TestMergeExponentialBucketBound(t *testing.T) {
	var m mergedHistograms[string]
	fast := expPoint([]float64{0.001, 0.0011, 0.0012}, 8)
	slow := expPoint([]float64{10, 11, 12}, 8)
	for _, dp := range []metricdata.ExponentialHistogramDataPoint[float64]{fast, slow} {
		a, _ := m.accExp("k", dp, false)
		a.addExp(dp, nil, 16)
	}
	got := m.exponential().DataPoints[0]
	if len(got.PositiveBucket.Counts) > 16 {
		t.Fatalf("%d buckets at scale %d, want at most 16", len(got.PositiveBucket.Counts), got.Scale)
	}
	want := expPoint([]float64{0.001, 0.0011, 0.0012, 10, 11, 12}, got.Scale)
	if trimmed(got.PositiveBucket) != trimmed(want.PositiveBucket) || got.Count != 6 {
		t.Fatalf("scale %d buckets %v count %d, want %v", got.Scale, got.PositiveBucket, got.Count, want.PositiveBucket)
	}
}

// A classic point folded into a native series, and a native series folded
// into a classic family, lose no request: only a caller's own views can mix
// the two, and the counts must survive it.
func TestMixedKindsKeepEveryRequest(t *testing.T) {
	now := time.Now()
	classic := metricdata.HistogramDataPoint[float64]{
		StartTime: now, Time: now, Count: 4, Sum: 3,
		Bounds: []float64{0.1, 1}, BucketCounts: []uint64{1, 2, 1},
	}
	native := expPoint([]float64{0.05, 0.2, 0.3}, 3)

	var nf mergedHistograms[string]
	a, _ := nf.accExp("k", native, false)
	a.addExp(native, nil, 160)
	a.add(classic, nil)
	got := nf.data().(metricdata.ExponentialHistogram[float64]).DataPoints[0]
	var sum uint64
	for _, c := range got.PositiveBucket.Counts {
		sum += c
	}
	if got.Count != 7 || sum+got.ZeroCount != 7 {
		t.Fatalf("native series: count %d, buckets hold %d, want 7", got.Count, sum+got.ZeroCount)
	}

	var cf mergedHistograms[string]
	c, _ := cf.acc("classic", classic, false)
	c.add(classic, nil)
	n, _ := cf.accExp("native", native, false)
	n.addExp(native, nil, 160)
	h := cf.data().(metricdata.Histogram[float64])
	for _, dp := range h.DataPoints {
		var sum uint64
		for _, c := range dp.BucketCounts {
			sum += c
		}
		if sum != dp.Count || !slices.Equal(dp.Bounds, classic.Bounds) {
			t.Fatalf("classic family: %+v", dp)
		}
	}
	if h.DataPoints[1].BucketCounts[0] != 1 || h.DataPoints[1].BucketCounts[1] != 2 {
		t.Errorf("native series folded into %v, want 0.05 under 0.1 and 0.2, 0.3 under 1", h.DataPoints[1].BucketCounts)
	}
}

func TestExpIndex(t *testing.T) {
	for _, tc := range []struct {
		v     float64
		scale int32
		want  int32
	}{
		{1, 0, -1}, // (0.5, 1]
		{1.5, 0, 0},
		{2, 0, 0},
		{2.1, 0, 1},
		{0.3, 3, -14}, // (2^(-14/8), 2^(-13/8)] = (0.2973, 0.3242]
		{1, -2, -1},
		{17, -2, 1}, // (16, 256]
	} {
		if got := expIndex(tc.v, tc.scale); got != tc.want {
			t.Errorf("expIndex(%g, %d) = %d, want %d", tc.v, tc.scale, got, tc.want)
		}
		if lo, hi := expUpper(tc.want-1, tc.scale), expUpper(tc.want, tc.scale); !(lo < tc.v && tc.v <= hi) {
			t.Errorf("bucket %d at scale %d is (%g, %g], not holding %g", tc.want, tc.scale, lo, hi, tc.v)
		}
	}
}

// bucketSlack is the factor within which rescaleExp places a value of a
// point at scale: half a bucket of min(scale, shiftScale).
func bucketSlack(scale int32) float64 {
	return math.Exp2(math.Exp2(-float64(min(scale, shiftScale) + 1)))
}

// Rescaling keeps the count, the zero count, the sum, the extrema and the
// exemplars exact, leaves the point it was given alone, and puts each
// value in a bucket that holds the scaled value within the documented
// bound, at every scale the SDK records.
func TestRescaleExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		factor float64
	}{
		{"seconds", 1}, {"milliseconds", 1e-3}, {"microseconds", 1e-6}, {"nanoseconds", 1e-9},
		{"minutes", 60}, {"hours", 3600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2000 {
				scale := int32(rng.IntN(23)) - 2 // -2 to 20
				v := math.Pow(10, -6+12*rng.Float64())
				dp := expPoint([]float64{v, 0}, scale)
				dp.Min, dp.Max = metricdata.NewExtrema(0.0), metricdata.NewExtrema(v)
				dp.Exemplars = []metricdata.Exemplar[float64]{{Value: v, TraceID: []byte{1}}}
				before := fmt.Sprintf("%+v", dp)
				got := rescaleExp(dp, tc.factor)
				if after := fmt.Sprintf("%+v", dp); after != before {
					t.Fatalf("the point given changed:\n%s\n%s", before, after)
				}
				mx, _ := got.Max.Value()
				if got.Count != 2 || got.ZeroCount != 1 || got.Sum != v*tc.factor || mx != v*tc.factor || got.Exemplars[0].Value != v*tc.factor {
					t.Fatalf("%g at scale %d: count %d zero %d sum %g max %g exemplar %g", v, scale, got.Count, got.ZeroCount, got.Sum, mx, got.Exemplars[0].Value)
				}
				var idx int32 = math.MaxInt32
				for i, c := range got.PositiveBucket.Counts {
					if c == 1 {
						idx = got.PositiveBucket.Offset + int32(i)
					}
				}
				lo, hi := expUpper(idx-1, got.Scale), expUpper(idx, got.Scale)
				s, want := bucketSlack(scale), v*tc.factor
				if !(lo/s < want && want <= hi*s) {
					t.Fatalf("%g × %g at scale %d in bucket %d, (%g, %g], not within a factor %g of %g", v, tc.factor, scale, idx, lo, hi, s, want)
				}
			}
		})
	}
}

// The SDK downscales a cumulative point as its range grows; the rescaled
// buckets must then be the rescaled buckets of before, merged by pairs,
// or Prometheus would read a count that moved to a neighbouring bucket as
// a counter reset. Exact from shiftScale up.
func TestRescaleExpCommutesWithDownscaling(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, factor := range []float64{1e-3, 1e-6, 1e-9, 60, 3600} {
		for range 500 {
			values := make([]float64, 1+rng.IntN(30))
			for i := range values {
				values[i] = math.Pow(10, -4+6*rng.Float64())
			}
			// Up to scale 12: finer ones hold the same and take a bucket
			// array of millions for this range.
			fine := int32(shiftScale + 1 + rng.IntN(12-shiftScale))
			coarse := shiftScale + int32(rng.IntN(int(fine-shiftScale)))
			// Rescaled, then merged down: what the scrape served before.
			r := rescaleExp(expPoint(values, fine), factor)
			before := expBuckets{offset: r.PositiveBucket.Offset, counts: slices.Clone(r.PositiveBucket.Counts)}
			before.downscale(fine - coarse)
			// Merged down by the SDK, then rescaled: what it serves now.
			now := rescaleExp(expPoint(values, coarse), factor)
			if trimmed(now.PositiveBucket) != trimmed(metricdata.ExponentialBucket{Offset: before.offset, Counts: before.counts}) {
				t.Fatalf("factor %g, scale %d → %d: %v, then %v", factor, fine, coarse, before, now.PositiveBucket)
			}
		}
	}
}

// A point whose shifted buckets would leave int32 (a scale finer than the
// SDK records) is merged down until they fit, every count kept, and the
// counts it shares with the SDK are not written.
func TestRescaleExpKeepsIndicesInRange(t *testing.T) {
	counts := []uint64{1, 2, 3, 4}
	dp := metricdata.ExponentialHistogramDataPoint[float64]{
		Scale: 26, Count: 10,
		PositiveBucket: metricdata.ExponentialBucket{Offset: math.MaxInt32 - 10, Counts: counts},
	}
	got := rescaleExp(dp, 3600)
	var n uint64
	for _, c := range got.PositiveBucket.Counts {
		n += c
	}
	end := int64(got.PositiveBucket.Offset) + int64(len(got.PositiveBucket.Counts))
	if n != 10 || got.Scale >= 26 || end > math.MaxInt32 || got.PositiveBucket.Offset < 0 {
		t.Errorf("scale %d offset %d counts %v", got.Scale, got.PositiveBucket.Offset, got.PositiveBucket.Counts)
	}
	if !slices.Equal(counts, []uint64{1, 2, 3, 4}) {
		t.Errorf("shared counts written: %v", counts)
	}
}

// The documented error of each time unit at shiftScale and finer: the
// shift's constant factor against the exact one.
func TestRescaleExpUnitErrors(t *testing.T) {
	for _, tc := range []struct {
		unit string
		max  float64 // documented, as a fraction
	}{{"ms", 0.025}, {"us", 0.041}, {"ns", 0.016}, {"min", 0.023}, {"h", 0.044}} {
		f := secondsPer[tc.unit]
		applied := math.Exp2(float64(expShift(f, shiftScale)) / (1 << shiftScale))
		e := max(applied/f, f/applied) - 1
		t.Logf("%s: factor %g applied as %g, error %.2f%%", tc.unit, f, applied, 100*e)
		if e > tc.max || e > bucketSlack(shiftScale)-1 {
			t.Errorf("%s: error %.4f above the documented %.3f", tc.unit, e, tc.max)
		}
	}
}
