package promexport

import (
	"math"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Native histograms: when the views aggregate http.server.request.duration
// as a base-2 exponential histogram (views.WithNativeHistograms), the
// derived http_request_duration_seconds is one too, merged over status like
// the classic form, and the exporter serves it as a Prometheus native
// histogram to scrapers that negotiate protobuf. Text and OpenMetrics
// scrapers, which have no native histograms, get its _count, _sum and a
// single le="+Inf" bucket. Points recorded in another time unit are
// converted to seconds first, as classic ones are (rescaleExp).

// maxNativeScale is the finest scale a Prometheus native histogram has
// (schema 8); the SDK may record finer ones, up to 20. Merging at most at
// this scale saves the exporter a downscale on every scrape.
const maxNativeScale = 8

// expState is the exponential part of a merged series: its scale, zero
// bucket and both signs' buckets.
type expState struct {
	scale         int32
	zeroThreshold float64
	zeroCount     uint64
	pos, neg      expBuckets
	exemplar      metricdata.Exemplar[float64] // the latest with a trace
}

// expBuckets holds counts[i] for bucket offset+i, the values in
// (base^(offset+i), base^(offset+i+1)] with base 2^(2^-scale).
type expBuckets struct {
	offset int32
	counts []uint64
}

// mergeExponential is Produce's loop body for exponential points: they are
// merged into the semconv form by attribute set and into the instrumentator form by
// method and handler, counted per status.
func (t *translator) mergeExponential(m metricdata.Metrics, h metricdata.ExponentialHistogram[float64], semconvForm, instr bool,
	semconvMerged *mergedHistograms[attribute.Distinct], merged *mergedHistograms[histKey],
) {
	if semconvForm {
		// In seconds, whatever unit the points came in.
		semconvMerged.metric = metricdata.Metrics{Name: m.Name, Description: durationDescription, Unit: "s"}
		for _, dp := range h.DataPoints {
			a, created := semconvMerged.accExp(dp.Attributes.Equivalent(), dp, false)
			if created {
				a.attrs = dp.Attributes
			}
			a.addExp(dp, nil, t.nativeMax)
		}
	}
	if instr {
		t.mu.Lock()
		for _, dp := range h.DataPoints {
			l := t.instrLabels(dp.Attributes)
			a, created := merged.accExp(l.hist, dp, true)
			if created {
				a.attrs = l.histAttrs
			}
			a.addExp(dp, &l, t.nativeMax)
		}
		t.mu.Unlock()
	}
}

// accExp returns the series of key, created as an exponential one if new.
func (m *mergedHistograms[K]) accExp(key K, dp metricdata.ExponentialHistogramDataPoint[float64], byStatus bool) (a *histAcc, created bool) {
	if a := m.byKey[key]; a != nil {
		return a, false
	}
	return m.register(key, histAcc{start: dp.StartTime, time: dp.Time, exp: &expState{scale: min(dp.Scale, maxNativeScale)}}, byStatus), true
}

// addExp merges an exponential point, counted under status when the series
// keeps statuses. Points of a finer scale are downscaled to the series'
// scale, a coarser one downscales the series; a series that would need more
// than maxBuckets buckets on either sign is downscaled until it fits, as
// the SDK does within one point.
func (a *histAcc) addExp(dp metricdata.ExponentialHistogramDataPoint[float64], status *instrLabels, maxBuckets int) {
	if a.exp == nil {
		a.addExpToClassic(dp)
	} else {
		e := a.exp
		if dp.Scale < e.scale {
			e.downscale(e.scale - dp.Scale)
		}
		delta := dp.Scale - e.scale
		e.pos.add(dp.PositiveBucket.Offset, dp.PositiveBucket.Counts, delta)
		e.neg.add(dp.NegativeBucket.Offset, dp.NegativeBucket.Counts, delta)
		e.zeroCount += dp.ZeroCount
		e.zeroThreshold = max(e.zeroThreshold, dp.ZeroThreshold)
		if d := max(e.pos.excess(maxBuckets), e.neg.excess(maxBuckets)); d > 0 {
			e.downscale(d)
		}
		for _, x := range dp.Exemplars {
			if len(x.TraceID) != 0 && x.Time.After(e.exemplar.Time) {
				x.FilteredAttributes = nil
				e.exemplar = x
			}
		}
	}
	a.count += dp.Count
	a.sum += dp.Sum
	if dp.StartTime.Before(a.start) {
		a.start = dp.StartTime
	}
	if dp.Time.After(a.time) {
		a.time = dp.Time
	}
	a.countStatus(status, dp.Count)
}

// addExpToClassic folds an exponential point into a classic series: each
// bucket's count goes to the first classic bucket that holds its upper
// bound, so no request is lost. Only a caller's own views could give one
// instrument both kinds of aggregation.
func (a *histAcc) addExpToClassic(dp metricdata.ExponentialHistogramDataPoint[float64]) {
	// Negative durations do not occur; the lowest bucket would hold them.
	a.counts[0] += dp.ZeroCount
	for _, c := range dp.NegativeBucket.Counts {
		a.counts[0] += c
	}
	for i, c := range dp.PositiveBucket.Counts {
		upper := expUpper(dp.PositiveBucket.Offset+int32(i), dp.Scale)
		j, _ := slices.BinarySearch(a.bounds, upper)
		a.counts[j] += c
	}
}

// addClassicToExp folds a classic point into an exponential series: each
// bucket's count goes to the exponential bucket holding its upper bound
// (the +Inf bucket's to the one above the last bound), so no request is
// lost.
func (a *histAcc) addClassicToExp(dp metricdata.HistogramDataPoint[float64], status *instrLabels) {
	e := a.exp
	for i, c := range dp.BucketCounts {
		if c == 0 {
			continue
		}
		var idx int32
		switch {
		case len(dp.Bounds) == 0:
			idx = 0
		case i < len(dp.Bounds) && !(dp.Bounds[i] > 0):
			e.zeroCount += c
			continue
		case i < len(dp.Bounds):
			idx = expIndex(dp.Bounds[i], e.scale)
		default:
			idx = expIndex(dp.Bounds[len(dp.Bounds)-1], e.scale) + 1
		}
		e.pos.add(idx, []uint64{c}, 0)
	}
	a.count += dp.Count
	a.sum += dp.Sum
	if dp.StartTime.Before(a.start) {
		a.start = dp.StartTime
	}
	if dp.Time.After(a.time) {
		a.time = dp.Time
	}
	a.countStatus(status, dp.Count)
}

// Converting an exponential histogram to seconds. Multiplying its values
// by a factor f moves every bucket by k = log2(f)·2^scale bucket widths. f
// is not a power of two for any time unit but the second (log2(1/1000) is
// irrational), so k is no whole number and each bucket's image straddles
// two buckets of the same scale; the values inside a bucket are not known,
// so its count cannot be split exactly. Each bucket is instead moved whole
// by a whole shift, which keeps the count, the zero count, the sum and the
// extrema exact (those are scaled as numbers) and costs no new bucket
// array: only the offsets change.
//
// The shift must also survive the SDK's downscaling. A cumulative point
// goes to a coarser scale as its range grows, merging bucket pairs; if the
// shift at scale s were not twice the shift at s-1, a count would move to
// the neighbouring bucket from one scrape to the next, and Prometheus
// would take the lower count for a counter reset. So at every scale from
// shiftScale up, the shift is round(k at shiftScale)·2^(scale-shiftScale),
// which commutes with merging pairs; below it, round(k) at the point's own
// scale, where a change of scale may still move a count once (only a
// bucket bound far under the default, or a range of more than 20 octaves,
// takes the SDK there).
//
// Error bound: the shift misses k by at most half a bucket of
// min(scale, shiftScale), so every value lands in a bucket that holds
// it to within a factor 2^(2^-(min(scale, shiftScale)+1)): 2^(1/16), 4.4%,
// at scale 3 and finer. The error is one constant factor for the whole
// series (its shape is kept bucket for bucket); for the time units it is
// 2.4% (ms: 2^-10 for 1/1000), 4.0% (us), 1.6% (ns), 2.2% (min) and 4.3%
// (h), below half the width of a scale-3 bucket, the scale the default
// bucket bound keeps for latencies from 1 ms to 1000 s.
const shiftScale = 3

// expShift is the whole shift, in buckets of scale, that multiplies a
// histogram's values by factor within the bound above.
func expShift(factor float64, scale int32) int64 {
	l := math.Log2(factor)
	if scale < shiftScale {
		return int64(math.Round(math.Ldexp(l, int(scale))))
	}
	return int64(math.Round(math.Ldexp(l, shiftScale))) << (scale - shiftScale)
}

// rescaleExp returns dp with its values multiplied by factor: its buckets
// shifted by expShift, its zero threshold, sum, extrema and exemplars
// scaled. dp's bucket counts are shared, not written.
func rescaleExp(dp metricdata.ExponentialHistogramDataPoint[float64], factor float64) metricdata.ExponentialHistogramDataPoint[float64] {
	pos := expBuckets{offset: dp.PositiveBucket.Offset, counts: dp.PositiveBucket.Counts}
	neg := expBuckets{offset: dp.NegativeBucket.Offset, counts: dp.NegativeBucket.Counts}
	shift := expShift(factor, dp.Scale)
	// The SDK's scales (at most 20) keep every shifted index within int32;
	// a point of a finer scale is merged until it fits, exactly.
	for !pos.shiftFits(shift) || !neg.shiftFits(shift) {
		pos.counts, neg.counts = slices.Clone(pos.counts), slices.Clone(neg.counts)
		pos.downscale(1)
		neg.downscale(1)
		dp.Scale--
		shift = expShift(factor, dp.Scale)
	}
	dp.PositiveBucket = metricdata.ExponentialBucket{Offset: pos.offset + int32(shift), Counts: pos.counts}
	dp.NegativeBucket = metricdata.ExponentialBucket{Offset: neg.offset + int32(shift), Counts: neg.counts}
	dp.ZeroThreshold *= factor
	dp.Sum *= factor
	if v, ok := dp.Min.Value(); ok {
		dp.Min = metricdata.NewExtrema(v * factor)
	}
	if v, ok := dp.Max.Value(); ok {
		dp.Max = metricdata.NewExtrema(v * factor)
	}
	if len(dp.Exemplars) > 0 {
		ex := make([]metricdata.Exemplar[float64], len(dp.Exemplars))
		for i, e := range dp.Exemplars {
			e.Value *= factor
			ex[i] = e
		}
		dp.Exemplars = ex
	}
	return dp
}

// shiftFits reports whether b's indices moved by shift stay within int32.
func (b *expBuckets) shiftFits(shift int64) bool {
	lo := int64(b.offset) + shift
	hi := lo + int64(len(b.counts))
	return lo >= math.MinInt32 && hi <= math.MaxInt32
}

// expIndex is the index of the bucket holding v > 0 at scale.
func expIndex(v float64, scale int32) int32 {
	return int32(math.Ceil(math.Ldexp(math.Log2(v), int(scale)))) - 1
}

// expUpper is the upper bound of bucket idx at scale.
func expUpper(idx, scale int32) float64 {
	return math.Exp2(math.Ldexp(float64(idx+1), -int(scale)))
}

func (e *expState) downscale(delta int32) {
	if delta <= 0 {
		return
	}
	e.pos.downscale(delta)
	e.neg.downscale(delta)
	e.scale -= delta
}

// downscale merges every 2^delta adjacent buckets into one, in place: the
// new position of bucket i is never after i.
func (b *expBuckets) downscale(delta int32) {
	if len(b.counts) == 0 {
		b.offset >>= delta
		return
	}
	newOffset := b.offset >> delta
	last := (b.offset + int32(len(b.counts)) - 1) >> delta
	for i, c := range b.counts {
		b.counts[i] = 0
		b.counts[(b.offset+int32(i))>>delta-newOffset] += c
	}
	b.offset = newOffset
	b.counts = b.counts[:last-newOffset+1]
}

// add adds counts[i] to bucket (offset+i)>>delta; delta is the scale of
// the counts minus b's, at least 0.
func (b *expBuckets) add(offset int32, counts []uint64, delta int32) {
	// Zero counts at the ends would only widen the range.
	for len(counts) > 0 && counts[0] == 0 {
		counts, offset = counts[1:], offset+1
	}
	for len(counts) > 0 && counts[len(counts)-1] == 0 {
		counts = counts[:len(counts)-1]
	}
	if len(counts) == 0 {
		return
	}
	b.grow(offset>>delta, (offset+int32(len(counts))-1)>>delta)
	for i, c := range counts {
		b.counts[(offset+int32(i))>>delta-b.offset] += c
	}
}

// grow makes b hold buckets lo to hi.
func (b *expBuckets) grow(lo, hi int32) {
	if len(b.counts) == 0 {
		b.offset, b.counts = lo, make([]uint64, hi-lo+1)
		return
	}
	end := b.offset + int32(len(b.counts)) - 1
	if lo >= b.offset && hi <= end {
		return
	}
	newLo, newHi := min(lo, b.offset), max(hi, end)
	counts := make([]uint64, newHi-newLo+1)
	copy(counts[b.offset-newLo:], b.counts)
	b.offset, b.counts = newLo, counts
}

// excess is how far b must be downscaled to hold at most n buckets.
func (b *expBuckets) excess(n int) int32 {
	if len(b.counts) <= n {
		return 0
	}
	lo, hi := b.offset, b.offset+int32(len(b.counts))-1
	var d int32
	for int(hi>>d-lo>>d)+1 > n {
		d++
	}
	return d
}

// data is the merged series as the aggregation they were recorded with:
// exponential when every series is, else classic, with any exponential
// series folded into the first classic series' buckets so the family has
// one kind and no request is lost.
func (m *mergedHistograms[K]) data() metricdata.Aggregation {
	var classic *histAcc
	native := 0
	for _, a := range m.order {
		if a.exp != nil {
			native++
		} else if classic == nil {
			classic = a
		}
	}
	switch {
	case native == 0:
		return m.histogram()
	case classic == nil:
		return m.exponential()
	}
	for _, a := range m.order {
		if a.exp != nil {
			a.toClassic(classic.bounds)
		}
	}
	return m.histogram()
}

// toClassic turns an exponential series into a classic one of the given
// boundaries.
func (a *histAcc) toClassic(bounds []float64) {
	e := a.exp
	a.exp, a.bounds, a.counts = nil, bounds, make([]uint64, len(bounds)+1)
	a.addExpToClassic(metricdata.ExponentialHistogramDataPoint[float64]{
		Scale:          e.scale,
		ZeroCount:      e.zeroCount,
		PositiveBucket: metricdata.ExponentialBucket{Offset: e.pos.offset, Counts: e.pos.counts},
		NegativeBucket: metricdata.ExponentialBucket{Offset: e.neg.offset, Counts: e.neg.counts},
	})
}

func (m *mergedHistograms[K]) exponential() metricdata.ExponentialHistogram[float64] {
	h := metricdata.ExponentialHistogram[float64]{Temporality: metricdata.CumulativeTemporality}
	h.DataPoints = make([]metricdata.ExponentialHistogramDataPoint[float64], 0, len(m.order))
	for _, a := range m.order {
		e := a.exp
		dp := metricdata.ExponentialHistogramDataPoint[float64]{
			Attributes:     a.attrs,
			StartTime:      a.start,
			Time:           a.time,
			Count:          a.count,
			Sum:            a.sum,
			Scale:          e.scale,
			ZeroCount:      e.zeroCount,
			ZeroThreshold:  e.zeroThreshold,
			PositiveBucket: metricdata.ExponentialBucket{Offset: e.pos.offset, Counts: e.pos.counts},
			NegativeBucket: metricdata.ExponentialBucket{Offset: e.neg.offset, Counts: e.neg.counts},
		}
		if !e.exemplar.Time.IsZero() {
			dp.Exemplars = []metricdata.Exemplar[float64]{e.exemplar}
		}
		h.DataPoints = append(h.DataPoints, dp)
	}
	return h
}
