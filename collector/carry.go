package collector

import (
	"slices"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Delta data is the SDK's own: with a delta temporality the SDK resets
// each series at every collection, so every interval carries its own
// count, sum, buckets, min, max and exemplars. The alternative, deriving
// deltas from cumulative data against what the destination acknowledged,
// cannot give an interval's min, max or exemplars: two cumulative extremes
// say nothing about the interval between them, and cumulative exemplars
// are not those of the interval. Tracking extremes ourselves would mean a
// second aggregation on the request path.
//
// What the SDK does not do is keep an interval whose export failed. The
// carry holds, per series, the delta points of exports that certainly did
// not arrive, merged into one point per series, and merges them into the
// next export: counts, sums and buckets add, min is the min of mins, max
// the max of maxes, the start time is the earliest, and exemplars are kept
// up to the reservoir's size, the newest first. An export that may have
// arrived (the connection broke after the request was written) is never
// carried: a delta sent twice is counted twice, a gap is only a gap; nor
// is one refused for good, which would be refused again. Memory is at
// most one point per series, one exemplar per bucket, and at most the
// cardinality limit's series per metric: the SDK bounds each collection,
// but a destination down for long sees the series of many intervals,
// so the carry bounds their union itself, dropping the oldest.

// scopeKey identifies an instrumentation scope as the SDK does: two
// meters of one name but another version, schema URL or attributes are
// different scopes, whose series must not merge.
type scopeKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

func scopeKeyOf(s instrumentation.Scope) scopeKey {
	return scopeKey{s.Name, s.Version, s.SchemaURL, s.Attributes.Equivalent()}
}

// metricKey names one metric, the unit the cardinality limit applies to.
type metricKey struct {
	scope scopeKey
	name  string
}

// seriesKey names one series of one metric.
type seriesKey struct {
	metricKey
	attrs attribute.Distinct
}

// carried is one series' unsent delta data.
type carried struct {
	scope  instrumentation.Scope
	metric metricdata.Metrics // Name, Description, Unit; Data holds the one point
	order  int                // for a stable output order
}

// carry is the delta data of exports that certainly did not arrive.
type carry struct {
	series map[seriesKey]*carried
	// perMetric counts the carried series of each metric, which limit
	// bounds: the SDK's cardinality limit bounds one collection, but the
	// series of successive failed intervals add up.
	perMetric map[metricKey]int
	limit     int
	next      int
	// points is the number of carried data points.
	points int
	// dropped counts the carried points given up on since the exporter
	// last took the count: past the limit, or unable to merge with the
	// next interval of their series.
	dropped int
}

// newCarry returns an empty carry holding at most limit series per
// metric, defaultCardinalityLimit when limit is not positive.
func newCarry(limit int) *carry {
	if limit <= 0 {
		limit = defaultCardinalityLimit
	}
	return &carry{series: map[seriesKey]*carried{}, perMetric: map[metricKey]int{}, limit: limit}
}

// add keeps the delta points of rm, which did not arrive, copying them
// out of the SDK's buffers, which it reuses at the next collection.
// Cumulative points and gauges are not kept: the next export has them.
// Past the limit, the series whose latest point is oldest are dropped.
func (c *carry) add(rm *metricdata.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				addSum(c, sm.Scope, m, d)
			case metricdata.Sum[float64]:
				addSum(c, sm.Scope, m, d)
			case metricdata.Histogram[int64]:
				addHist(c, sm.Scope, m, d)
			case metricdata.Histogram[float64]:
				addHist(c, sm.Scope, m, d)
			case metricdata.ExponentialHistogram[int64]:
				addExpHist(c, sm.Scope, m, d)
			case metricdata.ExponentialHistogram[float64]:
				addExpHist(c, sm.Scope, m, d)
			}
		}
	}
	c.bound()
}

// bound drops, from each metric over the limit, the series whose latest
// point is oldest: a destination down for long gets the most recent
// intervals of the series still in use.
func (c *carry) bound() {
	over := map[metricKey][]seriesKey{}
	for mk, n := range c.perMetric {
		if n > c.limit {
			over[mk] = make([]seriesKey, 0, n)
		}
	}
	if len(over) == 0 {
		return
	}
	for k := range c.series {
		if list, ok := over[k.metricKey]; ok {
			over[k.metricKey] = append(list, k)
		}
	}
	for mk, keys := range over {
		sort.Slice(keys, func(i, j int) bool {
			a, b := c.series[keys[i]], c.series[keys[j]]
			ta, tb := pointTime(a.metric.Data), pointTime(b.metric.Data)
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
			return a.order < b.order
		})
		excess := len(keys) - c.limit
		for _, k := range keys[:excess] {
			delete(c.series, k)
		}
		c.perMetric[mk] = c.limit
		c.points -= excess
		c.dropped += excess
	}
}

// pointTime is the end time of the one point of a carried series.
func pointTime(d metricdata.Aggregation) time.Time {
	switch a := d.(type) {
	case metricdata.Sum[int64]:
		return a.DataPoints[0].Time
	case metricdata.Sum[float64]:
		return a.DataPoints[0].Time
	case metricdata.Histogram[int64]:
		return a.DataPoints[0].Time
	case metricdata.Histogram[float64]:
		return a.DataPoints[0].Time
	case metricdata.ExponentialHistogram[int64]:
		return a.DataPoints[0].Time
	case metricdata.ExponentialHistogram[float64]:
		return a.DataPoints[0].Time
	}
	return time.Time{}
}

// put merges one point into the carry.
func (c *carry) put(scope instrumentation.Scope, m metricdata.Metrics, attrs attribute.Set, data metricdata.Aggregation) {
	mk := metricKey{scopeKeyOf(scope), m.Name}
	k := seriesKey{mk, attrs.Equivalent()}
	if old, ok := c.series[k]; ok {
		if merged, ok := mergeData(old.metric.Data, data); ok {
			old.metric.Data = merged
			return
		}
		// Not mergeable (the aggregation or the bounds changed): the newer
		// interval takes the older's place.
		c.dropped++
		old.metric, old.scope = metricdata.Metrics{Name: m.Name, Description: m.Description, Unit: m.Unit, Data: data}, scope
		return
	}
	c.series[k] = &carried{scope: scope, metric: metricdata.Metrics{Name: m.Name, Description: m.Description, Unit: m.Unit, Data: data}, order: c.next}
	c.perMetric[mk]++
	c.next++
	c.points++
}

func addSum[N int64 | float64](c *carry, scope instrumentation.Scope, m metricdata.Metrics, d metricdata.Sum[N]) {
	if d.Temporality != metricdata.DeltaTemporality {
		return
	}
	for _, dp := range d.DataPoints {
		p := dp
		p.Exemplars = copyExemplars(dp.Exemplars)
		c.put(scope, m, dp.Attributes, metricdata.Sum[N]{Temporality: d.Temporality, IsMonotonic: d.IsMonotonic, DataPoints: []metricdata.DataPoint[N]{p}})
	}
}

func addHist[N int64 | float64](c *carry, scope instrumentation.Scope, m metricdata.Metrics, d metricdata.Histogram[N]) {
	if d.Temporality != metricdata.DeltaTemporality {
		return
	}
	for _, dp := range d.DataPoints {
		p := dp
		p.Bounds = slices.Clone(dp.Bounds)
		p.BucketCounts = slices.Clone(dp.BucketCounts)
		p.Exemplars = copyExemplars(dp.Exemplars)
		c.put(scope, m, dp.Attributes, metricdata.Histogram[N]{Temporality: d.Temporality, DataPoints: []metricdata.HistogramDataPoint[N]{p}})
	}
}

func addExpHist[N int64 | float64](c *carry, scope instrumentation.Scope, m metricdata.Metrics, d metricdata.ExponentialHistogram[N]) {
	if d.Temporality != metricdata.DeltaTemporality {
		return
	}
	for _, dp := range d.DataPoints {
		p := dp
		p.PositiveBucket.Counts = slices.Clone(dp.PositiveBucket.Counts)
		p.NegativeBucket.Counts = slices.Clone(dp.NegativeBucket.Counts)
		p.Exemplars = copyExemplars(dp.Exemplars)
		c.put(scope, m, dp.Attributes, metricdata.ExponentialHistogram[N]{Temporality: d.Temporality, DataPoints: []metricdata.ExponentialHistogramDataPoint[N]{p}})
	}
}

func copyExemplars[N int64 | float64](in []metricdata.Exemplar[N]) []metricdata.Exemplar[N] {
	if len(in) == 0 {
		return nil
	}
	out := make([]metricdata.Exemplar[N], len(in))
	for i, e := range in {
		e.FilteredAttributes = slices.Clone(e.FilteredAttributes)
		e.TraceID = slices.Clone(e.TraceID)
		e.SpanID = slices.Clone(e.SpanID)
		out[i] = e
	}
	return out
}

// mergeInto returns rm with the carried points merged into the matching
// series of rm, and those rm lacks appended, and empties the carry. rm
// belongs to the SDK and is not modified: the result shares only what it
// does not change.
func (c *carry) mergeInto(rm *metricdata.ResourceMetrics) *metricdata.ResourceMetrics {
	if len(c.series) == 0 {
		return rm
	}
	out := &metricdata.ResourceMetrics{Resource: rm.Resource, ScopeMetrics: make([]metricdata.ScopeMetrics, 0, len(rm.ScopeMetrics))}
	metricAt := map[metricKey][2]int{} // position in out
	for _, sm := range rm.ScopeMetrics {
		osm := metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: make([]metricdata.Metrics, len(sm.Metrics))}
		sk := scopeKeyOf(sm.Scope)
		for j, m := range sm.Metrics {
			om := m
			om.Data = mergeMetric(c, sk, m)
			osm.Metrics[j] = om
			metricAt[metricKey{sk, m.Name}] = [2]int{len(out.ScopeMetrics), j}
		}
		out.ScopeMetrics = append(out.ScopeMetrics, osm)
	}
	// What is left had no new data this interval: it goes as it is.
	rest := make([]*carried, 0, len(c.series))
	for _, v := range c.series {
		rest = append(rest, v)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].order < rest[j].order })
	for _, v := range rest {
		sk := scopeKeyOf(v.scope)
		mk := metricKey{sk, v.metric.Name}
		at, ok := metricAt[mk]
		if !ok {
			si := slices.IndexFunc(out.ScopeMetrics, func(sm metricdata.ScopeMetrics) bool { return scopeKeyOf(sm.Scope) == sk })
			if si < 0 {
				out.ScopeMetrics = append(out.ScopeMetrics, metricdata.ScopeMetrics{Scope: v.scope})
				si = len(out.ScopeMetrics) - 1
			}
			out.ScopeMetrics[si].Metrics = append(out.ScopeMetrics[si].Metrics, v.metric)
			metricAt[mk] = [2]int{si, len(out.ScopeMetrics[si].Metrics) - 1}
			continue
		}
		m := &out.ScopeMetrics[at[0]].Metrics[at[1]]
		if data, ok := appendPoints(m.Data, v.metric.Data); ok {
			m.Data = data
		} else {
			// The metric's type changed since: the carried point cannot go
			// with it.
			c.dropped += metricPoints(v.metric.Data)
		}
	}
	c.series, c.perMetric, c.points = map[seriesKey]*carried{}, map[metricKey]int{}, 0
	return out
}

// mergeMetric returns m's data with the carried points of its series
// merged in, each taken out of the carry. The data points slice is new.
func mergeMetric(c *carry, sk scopeKey, m metricdata.Metrics) metricdata.Aggregation {
	mk := metricKey{sk, m.Name}
	take := func(attrs attribute.Set) (metricdata.Aggregation, bool) {
		k := seriesKey{mk, attrs.Equivalent()}
		v, ok := c.series[k]
		if !ok {
			return nil, false
		}
		delete(c.series, k)
		return v.metric.Data, true
	}
	var d metricdata.Aggregation
	lost := 0
	switch a := m.Data.(type) {
	case metricdata.Sum[int64]:
		d, lost = mergeSumPoints(a, take)
	case metricdata.Sum[float64]:
		d, lost = mergeSumPoints(a, take)
	case metricdata.Histogram[int64]:
		d, lost = mergeHistPoints(a, take)
	case metricdata.Histogram[float64]:
		d, lost = mergeHistPoints(a, take)
	case metricdata.ExponentialHistogram[int64]:
		d, lost = mergeExpPoints(a, take)
	case metricdata.ExponentialHistogram[float64]:
		d, lost = mergeExpPoints(a, take)
	default:
		return m.Data
	}
	c.dropped += lost
	return d
}

type takeFunc func(attribute.Set) (metricdata.Aggregation, bool)

// The merge functions return d with the carried points merged in, and how
// many carried points could not be: of another type or other bounds.

func mergeSumPoints[N int64 | float64](d metricdata.Sum[N], take takeFunc) (metricdata.Aggregation, int) {
	if d.Temporality != metricdata.DeltaTemporality {
		return d, 0
	}
	out := d
	out.DataPoints = slices.Clone(d.DataPoints)
	lost := 0
	for i := range out.DataPoints {
		if old, ok := take(out.DataPoints[i].Attributes); ok {
			if o, ok := old.(metricdata.Sum[N]); ok {
				out.DataPoints[i] = mergeSum(o.DataPoints[0], out.DataPoints[i])
			} else {
				lost++
			}
		}
	}
	return out, lost
}

func mergeHistPoints[N int64 | float64](d metricdata.Histogram[N], take takeFunc) (metricdata.Aggregation, int) {
	if d.Temporality != metricdata.DeltaTemporality {
		return d, 0
	}
	out := d
	out.DataPoints = slices.Clone(d.DataPoints)
	lost := 0
	for i := range out.DataPoints {
		old, ok := take(out.DataPoints[i].Attributes)
		if !ok {
			continue
		}
		if o, ok := old.(metricdata.Histogram[N]); ok {
			if m, ok := mergeHist(o.DataPoints[0], out.DataPoints[i]); ok {
				out.DataPoints[i] = m
				continue
			}
		}
		lost++
	}
	return out, lost
}

func mergeExpPoints[N int64 | float64](d metricdata.ExponentialHistogram[N], take takeFunc) (metricdata.Aggregation, int) {
	if d.Temporality != metricdata.DeltaTemporality {
		return d, 0
	}
	out := d
	out.DataPoints = slices.Clone(d.DataPoints)
	lost := 0
	for i := range out.DataPoints {
		if old, ok := take(out.DataPoints[i].Attributes); ok {
			if o, ok := old.(metricdata.ExponentialHistogram[N]); ok {
				out.DataPoints[i] = mergeExp(o.DataPoints[0], out.DataPoints[i])
			} else {
				lost++
			}
		}
	}
	return out, lost
}

// appendPoints adds the points of extra, series absent from d, to d.
func appendPoints(d, extra metricdata.Aggregation) (metricdata.Aggregation, bool) {
	switch a := d.(type) {
	case metricdata.Sum[int64]:
		b, ok := extra.(metricdata.Sum[int64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	case metricdata.Sum[float64]:
		b, ok := extra.(metricdata.Sum[float64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	case metricdata.Histogram[int64]:
		b, ok := extra.(metricdata.Histogram[int64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	case metricdata.Histogram[float64]:
		b, ok := extra.(metricdata.Histogram[float64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	case metricdata.ExponentialHistogram[int64]:
		b, ok := extra.(metricdata.ExponentialHistogram[int64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	case metricdata.ExponentialHistogram[float64]:
		b, ok := extra.(metricdata.ExponentialHistogram[float64])
		a.DataPoints = append(slices.Clip(a.DataPoints), b.DataPoints...)
		return a, ok
	}
	return d, false
}

// mergeData merges two carried aggregations of one series, older first.
func mergeData(older, newer metricdata.Aggregation) (metricdata.Aggregation, bool) {
	switch a := older.(type) {
	case metricdata.Sum[int64]:
		if b, ok := newer.(metricdata.Sum[int64]); ok {
			b.DataPoints = []metricdata.DataPoint[int64]{mergeSum(a.DataPoints[0], b.DataPoints[0])}
			return b, true
		}
	case metricdata.Sum[float64]:
		if b, ok := newer.(metricdata.Sum[float64]); ok {
			b.DataPoints = []metricdata.DataPoint[float64]{mergeSum(a.DataPoints[0], b.DataPoints[0])}
			return b, true
		}
	case metricdata.Histogram[int64]:
		if b, ok := newer.(metricdata.Histogram[int64]); ok {
			m, ok := mergeHist(a.DataPoints[0], b.DataPoints[0])
			b.DataPoints = []metricdata.HistogramDataPoint[int64]{m}
			return b, ok
		}
	case metricdata.Histogram[float64]:
		if b, ok := newer.(metricdata.Histogram[float64]); ok {
			m, ok := mergeHist(a.DataPoints[0], b.DataPoints[0])
			b.DataPoints = []metricdata.HistogramDataPoint[float64]{m}
			return b, ok
		}
	case metricdata.ExponentialHistogram[int64]:
		if b, ok := newer.(metricdata.ExponentialHistogram[int64]); ok {
			b.DataPoints = []metricdata.ExponentialHistogramDataPoint[int64]{mergeExp(a.DataPoints[0], b.DataPoints[0])}
			return b, true
		}
	case metricdata.ExponentialHistogram[float64]:
		if b, ok := newer.(metricdata.ExponentialHistogram[float64]); ok {
			b.DataPoints = []metricdata.ExponentialHistogramDataPoint[float64]{mergeExp(a.DataPoints[0], b.DataPoints[0])}
			return b, true
		}
	}
	return nil, false
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// mergeSum adds two consecutive delta points of one series, older first.
func mergeSum[N int64 | float64](older, newer metricdata.DataPoint[N]) metricdata.DataPoint[N] {
	out := newer
	out.StartTime = earliest(older.StartTime, newer.StartTime)
	out.Time = latest(older.Time, newer.Time)
	out.Value = older.Value + newer.Value
	// The SDK's fixed-size reservoir keeps a few exemplars per interval;
	// the merged point keeps as many as the larger of the two held.
	out.Exemplars = keepNewest(newer.Exemplars, older.Exemplars, max(len(older.Exemplars), len(newer.Exemplars)))
	return out
}

// mergeHist adds two consecutive delta histogram points of one series,
// older first; ok is false when their bounds differ.
func mergeHist[N int64 | float64](older, newer metricdata.HistogramDataPoint[N]) (metricdata.HistogramDataPoint[N], bool) {
	if !slices.Equal(older.Bounds, newer.Bounds) || len(older.BucketCounts) != len(newer.BucketCounts) {
		return newer, false
	}
	out := newer
	out.StartTime = earliest(older.StartTime, newer.StartTime)
	out.Time = latest(older.Time, newer.Time)
	out.Count = older.Count + newer.Count
	out.Sum = older.Sum + newer.Sum
	out.BucketCounts = make([]uint64, len(newer.BucketCounts))
	for i := range out.BucketCounts {
		out.BucketCounts[i] = older.BucketCounts[i] + newer.BucketCounts[i]
	}
	out.Min = minExtrema(older.Min, newer.Min)
	out.Max = maxExtrema(older.Max, newer.Max)
	out.Exemplars = alignedExemplars(newer.Bounds, newer.Exemplars, older.Exemplars)
	return out, true
}

func minExtrema[N int64 | float64](a, b metricdata.Extrema[N]) metricdata.Extrema[N] {
	av, aok := a.Value()
	bv, bok := b.Value()
	switch {
	case !aok:
		return b
	case !bok:
		return a
	}
	return metricdata.NewExtrema(min(av, bv))
}

func maxExtrema[N int64 | float64](a, b metricdata.Extrema[N]) metricdata.Extrema[N] {
	av, aok := a.Value()
	bv, bok := b.Value()
	switch {
	case !aok:
		return b
	case !bok:
		return a
	}
	return metricdata.NewExtrema(max(av, bv))
}

// alignedExemplars keeps one exemplar per bucket, as the SDK's
// bucket-aligned reservoir does for explicit-bucket histograms: the newer
// interval's where it has one, else the older's.
func alignedExemplars[N int64 | float64](bounds []float64, newer, older []metricdata.Exemplar[N]) []metricdata.Exemplar[N] {
	if len(older) == 0 {
		return newer
	}
	taken := make(map[int]bool, len(newer))
	out := make([]metricdata.Exemplar[N], 0, len(newer)+len(older))
	for _, e := range newer {
		taken[sort.SearchFloat64s(bounds, float64(e.Value))] = true
		out = append(out, e)
	}
	for _, e := range older {
		if b := sort.SearchFloat64s(bounds, float64(e.Value)); !taken[b] {
			taken[b] = true
			out = append(out, e)
		}
	}
	return out
}

// keepNewest returns up to n exemplars, newer ones first.
func keepNewest[N int64 | float64](newer, older []metricdata.Exemplar[N], n int) []metricdata.Exemplar[N] {
	out := append(slices.Clip(newer), older...)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// maxExpBuckets bounds a merged exponential histogram's buckets per sign,
// the SDK's default maximum size.
const maxExpBuckets = 160

// mergeExp adds two consecutive delta exponential histogram points of one
// series, older first, at the finer scale both can be expressed in, made
// coarser still if the buckets would not fit in maxExpBuckets.
func mergeExp[N int64 | float64](older, newer metricdata.ExponentialHistogramDataPoint[N]) metricdata.ExponentialHistogramDataPoint[N] {
	out := newer
	out.StartTime = earliest(older.StartTime, newer.StartTime)
	out.Time = latest(older.Time, newer.Time)
	out.Count = older.Count + newer.Count
	out.Sum = older.Sum + newer.Sum
	out.ZeroCount = older.ZeroCount + newer.ZeroCount
	out.ZeroThreshold = max(older.ZeroThreshold, newer.ZeroThreshold)
	out.Min = minExtrema(older.Min, newer.Min)
	out.Max = maxExtrema(older.Max, newer.Max)
	scale := min(older.Scale, newer.Scale)
	limit := max(maxExpBuckets, len(older.PositiveBucket.Counts), len(newer.PositiveBucket.Counts),
		len(older.NegativeBucket.Counts), len(newer.NegativeBucket.Counts))
	for scale > -10 && (expSpan(older.PositiveBucket, older.Scale-scale, newer.PositiveBucket, newer.Scale-scale) > limit ||
		expSpan(older.NegativeBucket, older.Scale-scale, newer.NegativeBucket, newer.Scale-scale) > limit) {
		scale--
	}
	out.Scale = scale
	out.PositiveBucket = mergeExpBuckets(older.PositiveBucket, older.Scale-scale, newer.PositiveBucket, newer.Scale-scale)
	out.NegativeBucket = mergeExpBuckets(older.NegativeBucket, older.Scale-scale, newer.NegativeBucket, newer.Scale-scale)
	out.Exemplars = keepNewest(newer.Exemplars, older.Exemplars, max(len(older.Exemplars), len(newer.Exemplars)))
	return out
}

// expRange is the first and last index of b at a scale shift steps
// coarser; ok is false for empty buckets.
func expRange(b metricdata.ExponentialBucket, shift int32) (lo, hi int32, ok bool) {
	if len(b.Counts) == 0 {
		return 0, 0, false
	}
	return b.Offset >> shift, (b.Offset + int32(len(b.Counts)) - 1) >> shift, true
}

func expSpan(a metricdata.ExponentialBucket, sa int32, b metricdata.ExponentialBucket, sb int32) int {
	alo, ahi, aok := expRange(a, sa)
	blo, bhi, bok := expRange(b, sb)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return int(bhi-blo) + 1
	case !bok:
		return int(ahi-alo) + 1
	}
	return int(max(ahi, bhi)-min(alo, blo)) + 1
}

func mergeExpBuckets(a metricdata.ExponentialBucket, sa int32, b metricdata.ExponentialBucket, sb int32) metricdata.ExponentialBucket {
	alo, ahi, aok := expRange(a, sa)
	blo, bhi, bok := expRange(b, sb)
	var lo, hi int32
	switch {
	case !aok && !bok:
		return metricdata.ExponentialBucket{}
	case !aok:
		lo, hi = blo, bhi
	case !bok:
		lo, hi = alo, ahi
	default:
		lo, hi = min(alo, blo), max(ahi, bhi)
	}
	out := metricdata.ExponentialBucket{Offset: lo, Counts: make([]uint64, hi-lo+1)}
	for i, n := range a.Counts {
		out.Counts[((a.Offset+int32(i))>>sa)-lo] += n
	}
	for i, n := range b.Counts {
		out.Counts[((b.Offset+int32(i))>>sb)-lo] += n
	}
	return out
}

// dataPoints counts the data points of rm.
func dataPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n += metricPoints(m.Data)
		}
	}
	return n
}

func metricPoints(d metricdata.Aggregation) int {
	switch d := d.(type) {
	case metricdata.Gauge[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		return len(d.DataPoints)
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Sum[float64]:
		return len(d.DataPoints)
	case metricdata.Histogram[int64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		return len(d.DataPoints)
	case metricdata.Summary:
		return len(d.DataPoints)
	}
	return 0
}
