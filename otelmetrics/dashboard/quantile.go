package dashboard

import (
	"math"
	"sort"
)

// distribution is what a percentile can be read from. classic and
// exponential implement it, so the summary reads percentiles the same way
// whichever aggregation the duration instrument uses.
type distribution interface {
	// Quantile returns the φ-quantile (0 ≤ q ≤ 1) estimated from the
	// buckets, NaN when there are no observations, -Inf for q < 0 and
	// +Inf for q > 1, as PromQL's histogram_quantile does.
	Quantile(q float64) float64
	// Total is the number of observations in the buckets.
	Total() uint64
}

// classic is a histogram with explicit bucket boundaries, as OTel's
// metricdata.HistogramDataPoint carries it: Counts[i] observations fell in
// (Bounds[i-1], Bounds[i]], and the last count is the +Inf bucket, so
// len(Counts) == len(Bounds)+1. Counts are per bucket, not cumulative.
type classic struct {
	Bounds []float64
	Counts []uint64
}

// Total is the number of observations.
func (c classic) Total() uint64 {
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
func (c classic) Quantile(q float64) float64 {
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

// exponential is a base-2 exponential histogram as OTel's
// metricdata.ExponentialHistogramDataPoint carries it (and as Prometheus
// native histograms store it): with base = 2^(2^-Scale), positive bucket
// Offset+i counts observations in (base^(Offset+i), base^(Offset+i+1)], the
// negative buckets mirror them below zero, and ZeroCount counts
// observations within [-ZeroThreshold, ZeroThreshold].
type exponential struct {
	Scale          int32
	ZeroThreshold  float64
	ZeroCount      uint64
	PositiveOffset int32
	Positive       []uint64
	NegativeOffset int32
	Negative       []uint64
}

// Total is the number of observations.
func (e exponential) Total() uint64 {
	n := e.ZeroCount
	for _, v := range e.Positive {
		n += v
	}
	for _, v := range e.Negative {
		n += v
	}
	return n
}

// maxSchema is the finest scale a Prometheus native histogram has; the
// SDK may record finer ones (up to 20), which the scrape endpoint and
// Prometheus coarsen to this one.
const maxSchema = 8

// fracBounds[s][j] is 2^(j/2^s)/2, the boundaries of schema s within one
// power of two, computed as Prometheus computes the table it reads native
// buckets with: each schema takes the coarser schema's boundaries and puts
// the previous boundary times 2^(2^-s) between them. Its values are off by
// up to a few units in the last place from the correctly rounded powers;
// reading percentiles that agree with histogram_quantile to the last bit
// needs these, not math.Exp2's.
var fracBounds = func() [maxSchema + 1][]float64 {
	var t [maxSchema + 1][]float64
	t[0] = []float64{0.5}
	for s := 1; s <= maxSchema; s++ {
		step := math.Exp2(math.Exp2(float64(-s)))
		b := make([]float64, 1<<s)
		for j := range b {
			if j%2 == 0 {
				b[j] = t[s-1][j/2]
			} else {
				b[j] = b[j-1] * step
			}
		}
		t[s] = b
	}
	return t
}()

// nativeBound is Prometheus's upper boundary of its bucket idx at schema
// (at most maxSchema): base^idx. Prometheus numbers a bucket by its upper
// boundary, OTel by its lower one, so OTel bucket i is Prometheus bucket
// i+1. The last finite bucket ends at math.MaxFloat64, not +Inf, as in
// Prometheus.
func nativeBound(idx, schema int32) float64 {
	if schema <= 0 {
		exp := int(idx) << -schema
		if exp == 1024 {
			return math.MaxFloat64
		}
		return math.Ldexp(1, exp)
	}
	frac := fracBounds[schema][idx&(1<<schema-1)]
	exp := int(idx>>schema) + 1
	if frac == 0.5 && exp == 1025 {
		return math.MaxFloat64
	}
	return math.Ldexp(frac, exp)
}

// nativeBucket is one bucket as histogram_quantile sees it.
type nativeBucket struct {
	lower, upper, count float64
}

// Quantile returns what Prometheus 3's histogram_quantile returns for the
// same native histogram, to the last bit: it walks the buckets from the
// bottom for q < 0.5 and from the top otherwise (so a rank that ends on a
// bucket's edge is read from the bucket on the far side of it), interpolates
// on the logarithm of the value within an exponential bucket and linearly
// within the zero bucket, which starts at 0 when there are only positive
// buckets and ends at 0 when there are only negative ones. A histogram
// finer than Prometheus's finest schema (8) is read at that schema, as
// Prometheus stores it.
func (e exponential) Quantile(q float64) float64 {
	switch {
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	total := e.Total()
	if total == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if e.Scale > maxSchema {
		e = e.downscale(maxSchema)
	}
	observations := float64(total)
	up := q < 0.5
	rank := q * observations
	if !up {
		rank = (1 - q) * observations
	}
	var b nativeBucket
	var count float64
	e.walk(up, func(nb nativeBucket) bool {
		b = nb
		count += nb.count
		return count >= rank
	})
	if b.lower < 0 && b.upper > 0 {
		// The zero bucket, with a threshold.
		pos, neg := !e.positiveEmpty(), !e.negativeEmpty()
		switch {
		case pos && !neg:
			b.lower = 0
		case neg && !pos:
			b.upper = 0
		}
	}
	if count < rank {
		// Only float rounding can leave the rank unreached.
		return b.upper
	}
	if up {
		rank -= count - b.count
	} else {
		rank = count - rank
	}
	fraction := rank / b.count
	if b.lower <= 0 && b.upper >= 0 {
		return b.lower + (b.upper-b.lower)*fraction
	}
	logLower, logUpper := math.Log2(math.Abs(b.lower)), math.Log2(math.Abs(b.upper))
	if b.lower > 0 {
		return math.Exp2(logLower + (logUpper-logLower)*fraction)
	}
	return -math.Exp2(logUpper + (logLower-logUpper)*(1-fraction))
}

// walk calls visit with each non-empty bucket, from the most negative to
// the most positive when up, the other way round otherwise, until visit
// returns true. Buckets reaching into the zero bucket start at its
// threshold, as Prometheus's bucket iterators have them.
func (e exponential) walk(up bool, visit func(nativeBucket) bool) {
	zt := e.ZeroThreshold
	neg := func(i int) bool {
		n := e.Negative[i]
		if n == 0 {
			return false
		}
		idx := e.NegativeOffset + int32(i) + 1
		b := nativeBucket{lower: -nativeBound(idx, e.Scale), upper: -nativeBound(idx-1, e.Scale), count: float64(n)}
		if b.upper < 0 && b.upper > -zt {
			b.upper = -zt
		}
		return visit(b)
	}
	pos := func(i int) bool {
		n := e.Positive[i]
		if n == 0 {
			return false
		}
		idx := e.PositiveOffset + int32(i) + 1
		b := nativeBucket{lower: nativeBound(idx-1, e.Scale), upper: nativeBound(idx, e.Scale), count: float64(n)}
		if b.lower > 0 && b.lower < zt {
			b.lower = zt
		}
		return visit(b)
	}
	zero := func() bool {
		return e.ZeroCount > 0 && visit(nativeBucket{lower: -zt, upper: zt, count: float64(e.ZeroCount)})
	}
	if up {
		for i := len(e.Negative) - 1; i >= 0; i-- {
			if neg(i) {
				return
			}
		}
		if zero() {
			return
		}
		for i := range e.Positive {
			if pos(i) {
				return
			}
		}
		return
	}
	for i := len(e.Positive) - 1; i >= 0; i-- {
		if pos(i) {
			return
		}
	}
	if zero() {
		return
	}
	for i := range e.Negative {
		if neg(i) {
			return
		}
	}
}

func (e exponential) negativeEmpty() bool { return allZero(e.Negative) }
func (e exponential) positiveEmpty() bool { return allZero(e.Positive) }

func allZero(v []uint64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// maxMergedBuckets bounds the buckets of a sum of exponential histograms
// on each side of zero. Two series at fine scales far apart (1 µs and 100 s
// at scale 20) would otherwise need tens of millions of buckets between
// them; the sum is coarsened until it fits, as the SDK coarsens a series
// past its maximum size.
const maxMergedBuckets = 4096

// mergedScale is the scale two histograms are added at: the coarser of
// theirs, or coarser still when the sum would span more than
// maxMergedBuckets.
// The buckets of o are given by their offsets and these lengths.
func mergedScale(e, o exponential, oPos, oNeg int) int32 {
	scale := min(e.Scale, o.Scale)
	// Below OTel's lowest scale (-10) only for data no SDK makes (indexes
	// beyond any float64): the loop still ends, the memory still bounded.
	for scale > -40 && (mergedSpan(e.PositiveOffset, len(e.Positive), e.Scale, o.PositiveOffset, oPos, o.Scale, scale) > maxMergedBuckets ||
		mergedSpan(e.NegativeOffset, len(e.Negative), e.Scale, o.NegativeOffset, oNeg, o.Scale, scale) > maxMergedBuckets) {
		scale--
	}
	return scale
}

// downscale merges buckets so the histogram has the given (lower or equal)
// scale: lowering the scale by one merges each pair of buckets.
func (e exponential) downscale(scale int32) exponential {
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

// mergeInPlace is mergeBuckets in counts' own memory: bucket i moves to
// a bucket at most i, so one pass from the lowest index never overwrites a
// count it has yet to move.
func mergeInPlace(off int32, counts []uint64, shift uint) (int32, []uint64) {
	first := int64(off) >> shift
	if len(counts) == 0 {
		return int32(first), counts
	}
	for i, v := range counts {
		if j := int((int64(off)+int64(i))>>shift - first); j != i {
			counts[j] += v
			counts[i] = 0
		}
	}
	last := (int64(off)+int64(len(counts))-1)>>shift - first
	return int32(first), counts[:last+1]
}

// addInto adds the buckets x from offset xOff, at a scale shift steps
// finer, into dst from offset off, growing dst as needed.
func addInto(off int32, dst []uint64, xOff int32, x []uint64, shift uint) (int32, []uint64) {
	if len(x) == 0 {
		return off, dst
	}
	off, dst = extend(off, dst, int64(xOff)>>shift, (int64(xOff)+int64(len(x))-1)>>shift)
	for i, v := range x {
		dst[int((int64(xOff)+int64(i))>>shift-int64(off))] += v
	}
	return off, dst
}

// addWords is addInto for sparse words (see entry) spanning n buckets.
func addWords(off int32, dst []uint64, xOff int32, words []uint64, n int, shift uint) (int32, []uint64) {
	if len(words) == 0 {
		return off, dst
	}
	off, dst = extend(off, dst, int64(xOff)>>shift, (int64(xOff)+int64(n)-1)>>shift)
	for _, w := range words {
		dst[int((int64(xOff)+int64(w>>countBits))>>shift-int64(off))] += w & countMask
	}
	return off, dst
}

// extend grows dst (buckets from off) to cover buckets lo..hi, keeping its
// counts, in its own memory when that suffices.
func extend(off int32, dst []uint64, lo, hi int64) (int32, []uint64) {
	if len(dst) == 0 {
		if n := int(hi - lo + 1); cap(dst) >= n {
			dst = dst[:n]
			clear(dst)
		} else {
			dst = make([]uint64, n)
		}
		off = int32(lo)
	} else if newLo, newHi := min(lo, int64(off)), max(hi, int64(off)+int64(len(dst))-1); newLo < int64(off) || newHi >= int64(off)+int64(len(dst)) {
		n, front, old := int(newHi-newLo+1), int(int64(off)-newLo), len(dst)
		if cap(dst) >= n {
			dst = dst[:n]
			copy(dst[front:], dst[:old])
			clear(dst[:front])
			clear(dst[front+old:])
		} else {
			grown := make([]uint64, n, n+n/4)
			copy(grown[front:], dst)
			dst = grown
		}
		off = int32(newLo)
	}
	return off, dst
}

// satSub is a-b, or 0 when a cumulative count went down (which only a
// restarted series can do).
func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
