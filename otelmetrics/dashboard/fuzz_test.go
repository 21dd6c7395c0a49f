package dashboard

import (
	"math"
	"testing"
)

// FuzzHistogram sums and differences exponential histograms of any scales
// and offsets, and reads percentiles of them and of classic buckets: no
// panic, memory bounded by maxMergedBuckets whatever the offsets, totals
// kept, and percentiles that never decrease with φ.
func FuzzHistogram(f *testing.F) {
	f.Add(int8(20), int32(-20_000_000), uint64(3), int8(20), int32(7_000_000), uint64(5), uint64(1), 0.5)
	f.Add(int8(0), int32(0), uint64(0), int8(-10), int32(math.MaxInt32), uint64(1), uint64(0), 0.99)
	f.Add(int8(3), int32(math.MinInt32), uint64(1<<40), int8(3), int32(math.MaxInt32-2), uint64(2), uint64(9), 1.0)
	f.Fuzz(func(t *testing.T, aScale int8, aOff int32, aN uint64, bScale int8, bOff int32, bN uint64, zero uint64, q float64) {
		clampScale := func(s int8) int32 { return int32(max(-10, min(20, s))) }
		a := exponential{Scale: clampScale(aScale), PositiveOffset: aOff, Positive: []uint64{aN, 1, aN % 7},
			NegativeOffset: bOff, Negative: []uint64{bN % 3}, ZeroCount: zero % 100}
		b := exponential{Scale: clampScale(bScale), PositiveOffset: bOff, Positive: []uint64{bN, 0, 2}}
		// Keep totals from overflowing uint64.
		a.Positive[0] %= 1 << 50
		b.Positive[0] %= 1 << 50
		var s acc
		s.addExp(a)
		s.addExp(b)
		sum := s.exp
		if len(sum.Positive) > maxMergedBuckets || len(sum.Negative) > maxMergedBuckets {
			t.Fatalf("sum spans %d/%d buckets", len(sum.Positive), len(sum.Negative))
		}
		if sum.Total() != a.Total()+b.Total() {
			t.Fatalf("sum total %d, want %d", sum.Total(), a.Total()+b.Total())
		}
		// Bucket by bucket, the sum in place is the sum of the two
		// histograms coarsened apart.
		da, db := a.downscale(sum.Scale), b.downscale(sum.Scale)
		for _, side := range []struct {
			off  int32
			got  []uint64
			offs [2]int32
			in   [2][]uint64
		}{
			{sum.PositiveOffset, sum.Positive, [2]int32{da.PositiveOffset, db.PositiveOffset}, [2][]uint64{da.Positive, db.Positive}},
			{sum.NegativeOffset, sum.Negative, [2]int32{da.NegativeOffset, db.NegativeOffset}, [2][]uint64{da.Negative, db.Negative}},
		} {
			want := make([]uint64, len(side.got))
			for k, in := range side.in {
				for i, v := range in {
					if v != 0 {
						want[int(int64(side.offs[k])+int64(i)-int64(side.off))] += v
					}
				}
			}
			for i := range want {
				if want[i] != side.got[i] {
					t.Fatalf("bucket %d: %d, want %d", int64(side.off)+int64(i), side.got[i], want[i])
				}
			}
		}
		if off, d := appendChanged(nil, sum.PositiveOffset, sum.Positive, db.PositiveOffset, db.Positive); sumOf(d) != sumOf(da.Positive) {
			t.Fatalf("(a+b)-b from %d: %v, want the %d of a", off, d, sumOf(da.Positive))
		}
		if math.IsNaN(q) || q < 0 || q > 1 {
			q = 0.5
		}
		lo, hi := sum.Quantile(q/2), sum.Quantile(q)
		if sum.Total() > 0 && lo > hi {
			t.Fatalf("exponential: φ=%v gives %v, above φ=%v's %v", q/2, lo, q, hi)
		}
		c := classic{Bounds: []float64{0.01, 0.1, 1}, Counts: []uint64{aN % 1000, bN % 1000, zero % 1000, uint64(aOff) % 1000}}
		if c.Total() > 0 {
			if lo, hi := c.Quantile(q/2), c.Quantile(q); lo > hi {
				t.Fatalf("classic: φ=%v gives %v, above φ=%v's %v", q/2, lo, q, hi)
			}
		}
	})
}

func sumOf(v []uint64) uint64 {
	var n uint64
	for _, x := range v {
		n += x
	}
	return n
}
