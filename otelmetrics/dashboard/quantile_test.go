package dashboard

import (
	"math"
	"slices"
	"testing"
)

func TestClassicQuantile(t *testing.T) {
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	for _, tc := range []struct {
		name   string
		bounds []float64
		counts []uint64
		q      float64
		want   float64
	}{
		// Rank 50 of 100 lies half-way into (0.025, 0.05]: 30 below it.
		{"interpolates within a bucket", bounds, []uint64{10, 10, 10, 40, 20, 10, 0, 0, 0, 0, 0, 0}, 0.5, 0.025 + 0.025*(20.0/40)},
		{"lowest bucket starts at zero", bounds, []uint64{100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.5, 0.0025},
		{"rank in +Inf is the highest bound", bounds, []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99}, 0.5, 10},
		{"exact bucket edge", []float64{1, 2}, []uint64{50, 50, 0}, 0.5, 1},
		{"q=1 is the top of the last filled bucket", []float64{1, 2}, []uint64{50, 50, 0}, 1, 2},
		// histogram_quantile finds the empty first bucket for rank 0 and
		// divides 0 by 0 there; agreeing with it matters more here.
		{"q=0 with an empty first bucket is NaN, as in PromQL", []float64{1, 2}, []uint64{0, 50, 0}, 0, math.NaN()},
		{"non-positive lowest bound is returned as it is", []float64{-1, 2}, []uint64{10, 0, 0}, 0.5, -1},
		{"no observations", bounds, make([]uint64, 12), 0.5, math.NaN()},
		{"q below 0", []float64{1}, []uint64{1, 0}, -0.1, math.Inf(-1)},
		{"q above 1", []float64{1}, []uint64{1, 0}, 1.1, math.Inf(1)},
		{"NaN q", []float64{1}, []uint64{1, 0}, math.NaN(), math.NaN()},
		{"counts do not fit the bounds", []float64{1}, []uint64{1}, 0.5, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classic{Bounds: tc.bounds, Counts: tc.counts}.Quantile(tc.q)
			if !same(got, tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestExponentialQuantile(t *testing.T) {
	// Scale 0: base 2, positive bucket i is (2^i, 2^(i+1)].
	for _, tc := range []struct {
		name string
		h    exponential
		q    float64
		want float64
	}{
		{"one bucket, half-way on the log scale", exponential{PositiveOffset: 0, Positive: []uint64{10}}, 0.5, math.Sqrt2},
		{"second bucket", exponential{PositiveOffset: -3, Positive: []uint64{10, 10}}, 0.75, math.Exp2(-2 + 0.5)},
		{"top of the last bucket", exponential{PositiveOffset: 2, Positive: []uint64{1, 0, 3}}, 1, 32},
		{"scale 3", exponential{Scale: 3, PositiveOffset: 8, Positive: []uint64{4}}, 0.25, math.Exp2((8 + 0.25) / 8)},
		{"negative scale", exponential{Scale: -1, PositiveOffset: 1, Positive: []uint64{2}}, 0.5, math.Exp2(2 * 1.5)},
		{"zero bucket with positives only starts at 0", exponential{ZeroThreshold: 0.001, ZeroCount: 10, Positive: []uint64{10}}, 0.25, 0.0005},
		{"zero threshold 0", exponential{ZeroCount: 10, Positive: []uint64{10}}, 0.25, 0},
		{"negative bucket", exponential{NegativeOffset: 1, Negative: []uint64{10}, Positive: []uint64{10}}, 0.25, -math.Exp2(1.5)},
		{"empty", exponential{}, 0.5, math.NaN()},
		{"q above 1", exponential{Positive: []uint64{1}}, 2, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Quantile(tc.q); !same(got, tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestExponentialQuantileOnSamples checks the estimate against the true
// quantile of a known sample set: it must land in the true value's bucket,
// within one bucket's width (a factor of 2^(2^-scale)).
func TestExponentialQuantileOnSamples(t *testing.T) {
	const scale = 3
	var h exponential
	h.Scale = scale
	var samples []float64
	for i := 1; i <= 1000; i++ {
		samples = append(samples, 0.001*float64(i)) // 1 ms .. 1 s, uniform
	}
	idx := func(v float64) int32 { return int32(math.Ceil(math.Log2(v)*math.Exp2(scale))) - 1 }
	lo := idx(samples[0])
	h.PositiveOffset = lo
	h.Positive = make([]uint64, idx(samples[len(samples)-1])-lo+1)
	for _, v := range samples {
		h.Positive[idx(v)-lo]++
	}
	base := math.Exp2(math.Exp2(-scale))
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
		truth := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q)
		if got < truth/base || got > truth*base {
			t.Errorf("q=%v: %v, true %v: more than a bucket (×%.3f) apart", q, got, truth, base)
		}
	}
}

func TestExponentialArithmetic(t *testing.T) {
	// Scale 1 buckets 4..7 merge pairwise into scale 0 buckets 2 and 3.
	a := exponential{Scale: 1, ZeroCount: 1, PositiveOffset: 4, Positive: []uint64{1, 2, 3, 4}}
	d := a.downscale(0)
	if d.PositiveOffset != 2 || len(d.Positive) != 2 || d.Positive[0] != 3 || d.Positive[1] != 7 {
		t.Fatalf("downscale: %+v", d)
	}
	// Negative indexes floor: -3 and -2 at scale 1 are -2 and -1 at scale 0.
	n := exponential{Scale: 1, PositiveOffset: -3, Positive: []uint64{5, 6}}.downscale(0)
	if n.PositiveOffset != -2 || len(n.Positive) != 2 || n.Positive[0] != 5 || n.Positive[1] != 6 {
		t.Fatalf("downscale of negative indexes: %+v", n)
	}
	// The SDK lowered the scale between two snapshots: the difference is
	// taken at the lower one, and only the changed buckets are kept.
	later := exponential{Scale: 0, ZeroCount: 3, PositiveOffset: 2, Positive: []uint64{10, 7, 1}}
	old := a.downscale(0)
	off, changed := appendChanged(nil, later.PositiveOffset, later.Positive, old.PositiveOffset, old.Positive)
	if off != 2 || len(changed) != 3 || changed[0] != 7 || changed[1] != 0 || changed[2] != 1 {
		t.Fatalf("changed buckets: %d %v", off, changed)
	}
	off, changed = appendChanged([]uint64{42}, 10, []uint64{5, 5, 6, 5}, 9, []uint64{0, 5, 5, 5, 5})
	if off != 12 || len(changed) != 2 || changed[0] != 42 || changed[1] != 1 {
		t.Fatalf("one changed bucket of four: %d %v", off, changed)
	}
	var sum acc
	sum.addExp(exponential{Scale: 0, PositiveOffset: off, Positive: changed[1:]})
	sum.addExp(exponential{Scale: 1, PositiveOffset: 0, Positive: []uint64{4}})
	sum.addExp(exponential{Scale: 0, PositiveOffset: 14, Positive: []uint64{2}})
	if h := sum.exp; h.Total() != 7 || h.Scale != 0 || h.PositiveOffset != 0 || len(h.Positive) != 15 || h.Positive[0] != 4 || h.Positive[12] != 1 || h.Positive[14] != 2 {
		t.Fatalf("sum: %+v", h)
	}
	// Coarsening in place: indexes 0, 12, 14 at scale 0 are 0, 6, 7 at -1.
	sum.addExp(exponential{Scale: -1, PositiveOffset: -1, Positive: []uint64{3}})
	if h := sum.exp; h.Total() != 10 || h.Scale != -1 || h.PositiveOffset != -1 || len(h.Positive) != 9 || h.Positive[0] != 3 || h.Positive[1] != 4 || h.Positive[7] != 1 || h.Positive[8] != 2 {
		t.Fatalf("sum after coarsening: %+v", h)
	}
}

func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// TestExponentialQuantileWalksLikePrometheus pins the walk of Prometheus
// 3's histogram_quantile on native histograms: from the bottom for q < 0.5,
// from the top otherwise, so a rank that ends exactly on a bucket edge is
// read from the bucket above it; the zero bucket interpolated linearly
// between its thresholds, from 0 only when one side has no buckets; a
// bucket overlapping the zero bucket starting at its threshold.
func TestExponentialQuantileWalksLikePrometheus(t *testing.T) {
	// Scale 0: one request in (2^-7, 2^-6] (10 ms), one in (8, 16] (10 s).
	fastSlow := exponential{PositiveOffset: -7, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}
	fiveFive := exponential{PositiveOffset: -7, Positive: []uint64{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}}
	for _, tc := range []struct {
		name string
		h    exponential
		q    float64
		want float64
	}{
		{"tie at the median is the bottom of the slow bucket", fastSlow, 0.5, 8},
		{"below the median from the bottom", fastSlow, 0.25, math.Exp2(-7 + 0.5)},
		{"p90 of five and five from the top", fiveFive, 0.9, math.Exp2(3 + 0.8)},
		{"p10 of five and five from the bottom", fiveFive, 0.1, math.Exp2(-7 + 0.2)},
		{"q=1 is the top of the highest bucket", fiveFive, 1, 16},
		{"zero bucket alone spans both thresholds", exponential{ZeroThreshold: 0.001, ZeroCount: 4}, 0.25, -0.0005},
		{"zero bucket below a tie", exponential{ZeroThreshold: 0.001, ZeroCount: 10, Positive: []uint64{10}}, 0.5, 1},
		{"zero bucket with positives starts at 0", exponential{ZeroThreshold: 0.001, ZeroCount: 10, Positive: []uint64{10}}, 0.25, 0.0005},
		{"bucket overlapping the zero bucket starts at its threshold", exponential{ZeroThreshold: 0.75, PositiveOffset: -1, Positive: []uint64{4}}, 0.25,
			math.Exp2(math.Log2(0.75) + (0-math.Log2(0.75))*0.25)},
		{"negative bucket from the top", exponential{NegativeOffset: 1, Negative: []uint64{10}, Positive: []uint64{10}}, 0.75, math.Sqrt2},
		{"negative bucket from the bottom", exponential{NegativeOffset: 1, Negative: []uint64{10}, Positive: []uint64{10}}, 0.25, -math.Exp2(1 + (2-1)*(1-0.5))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Quantile(tc.q); !same(got, tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestNativeBounds checks the bucket boundaries against Prometheus's own
// (a few entries of its table, which is not correctly rounded, so a
// formula of our own would disagree in the last bits) and their structure:
// every boundary of a schema is one of the next finer schema's.
func TestNativeBounds(t *testing.T) {
	for _, tc := range []struct {
		schema, idx int32
		want        float64
	}{
		{1, 1, 0.7071067811865475 * 2},
		{8, 200, 0.8593096490612387 * 2},
		{8, 255, 0.9972960560854698 * 2},
		{5, 25, 0.8593096490612387 * 2},
		{0, 3, 8},
		{-2, 1, 16},
		{-4, 64, math.MaxFloat64},
		{8, 1024 * 256, math.MaxFloat64},
	} {
		if got := nativeBound(tc.idx, tc.schema); got != tc.want {
			t.Errorf("schema %d index %d: %v, want %v", tc.schema, tc.idx, got, tc.want)
		}
	}
	for s := int32(1); s <= maxSchema; s++ {
		for i := int32(-600); i < 600; i++ {
			if a, b := nativeBound(i, s-1), nativeBound(2*i, s); a != b {
				t.Fatalf("schema %d index %d is %v, schema %d index %d is %v", s-1, i, a, s, 2*i, b)
			}
			if got, approx := nativeBound(i, s), math.Exp2(float64(i)/float64(int(1)<<s)); math.Abs(got-approx) > 8e-16*approx {
				t.Fatalf("schema %d index %d: %v, 2^(i/2^s) is %v", s, i, got, approx)
			}
		}
	}
}

// A delta kept sparse adds up to the same sum as the same delta kept
// dense, whatever the order and the scales.
func TestSparseDeltas(t *testing.T) {
	deltas := []exponential{
		{Scale: 4, PositiveOffset: -100, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3}, ZeroCount: 1},
		{Scale: 3, PositiveOffset: 7, Positive: []uint64{5, 0, 0, 0, 0, 0, 1}, NegativeOffset: -2, Negative: []uint64{0, 4, 0, 0, 0, 0, 0, 0, 0, 9}},
		{Scale: 4, PositiveOffset: 40, Positive: []uint64{2, 2, 2}},
		{Scale: 2, PositiveOffset: -300, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 7}},
	}
	var dense, sparse acc
	for _, x := range deltas {
		dense.addExp(x)
		var words []uint64
		var d expDelta
		d.scale = int16(x.Scale)
		d.zeroCount = x.ZeroCount
		d.posOffset, words = appendChanged(words, x.PositiveOffset, x.Positive, 0, nil)
		d.positives = int32(len(words))
		d.negOffset, words = appendChanged(words, x.NegativeOffset, x.Negative, 0, nil)
		words, d.sparse = sparsen(words, 0, &d.positives)
		e := entry{count: x.Total(), buckets: words, exp: &d}
		if x.PositiveOffset == 7 && !d.sparse {
			t.Fatalf("a delta with 5 of 17 buckets changed is kept dense")
		}
		sparse.add(&e, nil)
	}
	a, b := dense.exp, sparse.exp
	if a.Scale != b.Scale || a.ZeroCount != b.ZeroCount || a.PositiveOffset != b.PositiveOffset || !slices.Equal(a.Positive, b.Positive) ||
		a.NegativeOffset != b.NegativeOffset || !slices.Equal(a.Negative, b.Negative) {
		t.Errorf("sparse sum %+v, dense sum %+v", b, a)
	}
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if a.Quantile(q) != b.Quantile(q) {
			t.Errorf("q=%v: sparse %v, dense %v", q, b.Quantile(q), a.Quantile(q))
		}
	}
}
