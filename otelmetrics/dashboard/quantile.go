package dashboard

import (
	"math"
	"slices"
	"sort"
)

// Histogram is a distribution a percentile can be read from. Classic and
// Exponential implement it, so the summary reads percentiles the same way
// whichever aggregation the duration instrument uses.
type Histogram interface {
	// Quantile returns the φ-quantile (0 ≤ q ≤ 1) estimated from the
	// buckets, NaN when there are no observations, -Inf for q < 0 and
	// +Inf for q > 1, as PromQL's histogram_quantile does.
	Quantile(q float64) float64
	// Total is the number of observations in the buckets.
	Total() uint64
}

// Classic is a histogram with explicit bucket boundaries, as OTel's
// metricdata.HistogramDataPoint carries it: Counts[i] observations fell in
// (Bounds[i-1], Bounds[i]], and the last count is the +Inf bucket, so
// len(Counts) == len(Bounds)+1. Counts are per bucket, not cumulative.
type Classic struct {
	Bounds []float64
	Counts []uint64
}

// Total is the number of observations.
func (c Classic) Total() uint64 {
	var n uint64
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Quantile interpolates exactly as PromQL's histogram_quantile does over
// the same buckets read as cumulative le series: linearly within the bucket
// that holds the rank, from 0 when the lowest bound is positive; the lowest
// bound itself when it is not positive; and the highest finite bound when
// the rank falls into the +Inf bucket. Counts are integers here, so the
// coalescing and precision corrections PromQL applies to float samples have
// nothing to do.
func (c Classic) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	if len(c.Bounds) == 0 || len(c.Counts) != len(c.Bounds)+1 {
		// histogram_quantile needs at least one finite bucket and +Inf.
		return math.NaN()
	}
	n := len(c.Counts)
	cum := make([]float64, n)
	var run uint64
	for i, v := range c.Counts {
		run += v
		cum[i] = float64(run)
	}
	observations := cum[n-1]
	if observations == 0 {
		return math.NaN()
	}
	rank := q * observations
	b := sort.Search(n-1, func(i int) bool { return cum[i] >= rank })
	if b == n-1 {
		return c.Bounds[n-2]
	}
	if b == 0 && c.Bounds[0] <= 0 {
		return c.Bounds[0]
	}
	start, end, count := 0.0, c.Bounds[b], cum[b]
	if b > 0 {
		start = c.Bounds[b-1]
		count -= cum[b-1]
		rank -= cum[b-1]
	}
	return start + (end-start)*(rank/count)
}

// Exponential is a base-2 exponential histogram as OTel's
// metricdata.ExponentialHistogramDataPoint carries it (and as Prometheus
// native histograms store it): with base = 2^(2^-Scale), positive bucket
// Offset+i counts observations in (base^(Offset+i), base^(Offset+i+1)], the
// negative buckets mirror them below zero, and ZeroCount counts
// observations within [-ZeroThreshold, ZeroThreshold].
type Exponential struct {
	Scale          int32
	ZeroThreshold  float64
	ZeroCount      uint64
	PositiveOffset int32
	Positive       []uint64
	NegativeOffset int32
	Negative       []uint64
}

// Total is the number of observations.
func (e Exponential) Total() uint64 {
	n := e.ZeroCount
	for _, v := range e.Positive {
		n += v
	}
	for _, v := range e.Negative {
		n += v
	}
	return n
}

// bound is the upper boundary of bucket index i at the histogram's scale.
func (e Exponential) bound(i float64) float64 {
	return math.Exp2(i * math.Exp2(-float64(e.Scale)))
}

// Quantile walks the buckets from the most negative to the most positive
// until the rank is reached, as histogram_quantile does for a native
// histogram. Within an exponential bucket it interpolates on the logarithm
// of the value (the buckets are evenly spaced there), which is what
// Prometheus 3 does for the standard exponential schemas; within the zero
// bucket it interpolates linearly, taking 0 as its lower end when no
// negative observation exists.
func (e Exponential) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	total := e.Total()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var seen float64
	// Negative buckets: the largest index holds the most negative values.
	for i := len(e.Negative) - 1; i >= 0; i-- {
		n := float64(e.Negative[i])
		if n == 0 || seen+n < rank {
			seen += n
			continue
		}
		idx := float64(e.NegativeOffset) + float64(i)
		frac := (rank - seen) / n
		// From -base^(idx+1) up to -base^idx, evenly on the log scale.
		return -e.bound(idx + 1 - frac)
	}
	if n := float64(e.ZeroCount); n > 0 && seen+n >= rank {
		lower, upper := -e.ZeroThreshold, e.ZeroThreshold
		switch {
		case e.negativeEmpty():
			lower = 0
		case e.positiveEmpty():
			upper = 0
		}
		return lower + (upper-lower)*((rank-seen)/n)
	}
	seen += float64(e.ZeroCount)
	last := math.NaN()
	for i, v := range e.Positive {
		n := float64(v)
		if n == 0 {
			continue
		}
		idx := float64(e.PositiveOffset) + float64(i)
		last = e.bound(idx + 1)
		if seen+n < rank {
			seen += n
			continue
		}
		frac := (rank - seen) / n
		return e.bound(idx + frac)
	}
	// Only float rounding can leave the rank unreached.
	return last
}

func (e Exponential) negativeEmpty() bool { return allZero(e.Negative) }
func (e Exponential) positiveEmpty() bool { return allZero(e.Positive) }

func allZero(v []uint64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// sub returns e minus prev, both cumulative points of one series, at the
// coarser of their two scales: the SDK lowers a histogram's scale when its
// range grows, never raises it.
func (e Exponential) sub(prev Exponential) Exponential {
	if prev.Total() == 0 {
		// Nothing to take away: keep e's own scale rather than prev's
		// (a zero value's scale 0 would coarsen e to powers of two).
		out := e
		out.Positive = slices.Clone(e.Positive)
		out.Negative = slices.Clone(e.Negative)
		return out
	}
	scale := min(e.Scale, prev.Scale)
	cur, old := e.downscale(scale), prev.downscale(scale)
	out := Exponential{Scale: scale, ZeroThreshold: e.ZeroThreshold, ZeroCount: satSub(cur.ZeroCount, old.ZeroCount)}
	out.PositiveOffset, out.Positive = subBuckets(cur.PositiveOffset, cur.Positive, old.PositiveOffset, old.Positive)
	out.NegativeOffset, out.Negative = subBuckets(cur.NegativeOffset, cur.Negative, old.NegativeOffset, old.Negative)
	return out
}

// MaxMergedBuckets bounds the buckets of a sum of exponential histograms
// on each side of zero. Two series at fine scales far apart (1 µs and 100 s
// at scale 20) would otherwise need tens of millions of buckets between
// them; the sum is coarsened until it fits, as the SDK coarsens a series
// past its maximum size.
const MaxMergedBuckets = 4096

// add returns the sum of two histograms, at the coarser scale, or coarser
// still when the sum would span more than MaxMergedBuckets.
func (e Exponential) add(o Exponential) Exponential {
	scale := min(e.Scale, o.Scale)
	// Below OTel's lowest scale (-10) only for data no SDK makes (indexes
	// beyond any float64): the loop still ends, the memory still bounded.
	for scale > -40 && (mergedSpan(e.PositiveOffset, len(e.Positive), e.Scale, o.PositiveOffset, len(o.Positive), o.Scale, scale) > MaxMergedBuckets ||
		mergedSpan(e.NegativeOffset, len(e.Negative), e.Scale, o.NegativeOffset, len(o.Negative), o.Scale, scale) > MaxMergedBuckets) {
		scale--
	}
	a, b := e.downscale(scale), o.downscale(scale)
	out := Exponential{Scale: scale, ZeroThreshold: max(e.ZeroThreshold, o.ZeroThreshold), ZeroCount: a.ZeroCount + b.ZeroCount}
	out.PositiveOffset, out.Positive = addBuckets(a.PositiveOffset, a.Positive, b.PositiveOffset, b.Positive)
	out.NegativeOffset, out.Negative = addBuckets(a.NegativeOffset, a.Negative, b.NegativeOffset, b.Negative)
	return out
}

// downscale merges buckets so the histogram has the given (lower or equal)
// scale: lowering the scale by one merges each pair of buckets.
func (e Exponential) downscale(scale int32) Exponential {
	if scale >= e.Scale {
		return e
	}
	shift := uint(e.Scale - scale)
	out := e
	out.Scale = scale
	out.PositiveOffset, out.Positive = mergeBuckets(e.PositiveOffset, e.Positive, shift)
	out.NegativeOffset, out.Negative = mergeBuckets(e.NegativeOffset, e.Negative, shift)
	return out
}

// mergedSpan is how many buckets two bucket ranges cover together at
// scale (no higher than either's own).
func mergedSpan(aOff int32, aLen int, aScale int32, bOff int32, bLen int, bScale int32, scale int32) int64 {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range [2]struct {
		off   int32
		n     int
		scale int32
	}{{aOff, aLen, aScale}, {bOff, bLen, bScale}} {
		if r.n == 0 {
			continue
		}
		shift := uint(r.scale - scale)
		lo = min(lo, int64(r.off)>>shift)
		hi = max(hi, (int64(r.off)+int64(r.n)-1)>>shift)
	}
	if lo > hi {
		return 0
	}
	return hi - lo + 1
}

func mergeBuckets(off int32, counts []uint64, shift uint) (int32, []uint64) {
	if len(counts) == 0 {
		return off >> shift, nil
	}
	// An arithmetic shift floors, which is the right bucket for negative
	// indexes too.
	first := int64(off) >> shift
	lastIdx := (int64(off) + int64(len(counts)) - 1) >> shift
	out := make([]uint64, lastIdx-first+1)
	for i, v := range counts {
		out[((int64(off)+int64(i))>>shift)-first] += v
	}
	return int32(first), out
}

func subBuckets(aOff int32, a []uint64, bOff int32, b []uint64) (int32, []uint64) {
	if len(a) == 0 {
		return aOff, nil
	}
	out := make([]uint64, len(a))
	copy(out, a)
	for i, v := range b {
		j := int(bOff) + i - int(aOff)
		if j >= 0 && j < len(out) {
			out[j] = satSub(out[j], v)
		}
	}
	return aOff, out
}

func addBuckets(aOff int32, a []uint64, bOff int32, b []uint64) (int32, []uint64) {
	switch {
	case len(a) == 0:
		return bOff, append([]uint64(nil), b...)
	case len(b) == 0:
		return aOff, append([]uint64(nil), a...)
	}
	lo := min(int64(aOff), int64(bOff))
	hi := max(int64(aOff)+int64(len(a)), int64(bOff)+int64(len(b)))
	out := make([]uint64, hi-lo)
	for i, v := range a {
		out[int(int64(aOff)-lo)+i] += v
	}
	for i, v := range b {
		out[int(int64(bOff)-lo)+i] += v
	}
	return int32(lo), out
}

// satSub is a-b, or 0 when a cumulative count went down (which only a
// restarted series can do).
func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
