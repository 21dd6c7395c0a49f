package collector

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// expIndex is the bucket of v > 0 at scale: (base^index, base^(index+1)]
// with base 2^(2^-scale).
func expIndex(v float64, scale int32) int32 {
	return int32(math.Ceil(math.Log2(v)*math.Exp2(float64(scale)))) - 1
}

func expPoint(values []float64, scale int32) metricdata.ExponentialHistogramDataPoint[float64] {
	p := metricdata.ExponentialHistogramDataPoint[float64]{Scale: scale, Count: uint64(len(values))}
	if len(values) == 0 {
		return p
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for _, v := range values {
		lo, hi = min(lo, expIndex(v, scale)), max(hi, expIndex(v, scale))
		p.Sum += v
	}
	p.PositiveBucket = metricdata.ExponentialBucket{Offset: lo, Counts: make([]uint64, hi-lo+1)}
	for _, v := range values {
		p.PositiveBucket.Counts[expIndex(v, scale)-lo]++
	}
	p.Min, p.Max = metricdata.NewExtrema(slices.Min(values)), metricdata.NewExtrema(slices.Max(values))
	return p
}

// Two intervals' exponential histograms at different scales merge into
// exactly the histogram of all their values at the coarser scale, or a
// coarser one still when the buckets would not fit.
func TestMergeExponential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	draw := func(n int, from, to float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = from * math.Pow(to/from, r.Float64())
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		older, newer []float64
		so, sn       int32
	}{
		{"overlapping, different scales", draw(200, 0.001, 2), draw(300, 0.01, 10), 4, 2},
		{"disjoint and wide: downscaled to fit", draw(100, 1e-6, 1e-5), draw(100, 1e5, 1e6), 5, 5},
		{"older empty", nil, draw(50, 0.1, 1), 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeExp(expPoint(tc.older, tc.so), expPoint(tc.newer, tc.sn))
			all := append(slices.Clone(tc.older), tc.newer...)
			if got.Scale > min(tc.so, tc.sn) || len(got.PositiveBucket.Counts) > maxExpBuckets {
				t.Errorf("scale %d with %d buckets", got.Scale, len(got.PositiveBucket.Counts))
			}
			want := expPoint(all, got.Scale)
			if got.Count != want.Count || math.Abs(got.Sum-want.Sum) > 1e-9*math.Abs(want.Sum) {
				t.Errorf("count %d sum %g, want %d %g", got.Count, got.Sum, want.Count, want.Sum)
			}
			// Trailing or leading zero buckets aside, the counts agree.
			gotAt := map[int32]uint64{}
			for i, n := range got.PositiveBucket.Counts {
				if n > 0 {
					gotAt[got.PositiveBucket.Offset+int32(i)] = n
				}
			}
			for i, n := range want.PositiveBucket.Counts {
				if gotAt[want.PositiveBucket.Offset+int32(i)] != n {
					t.Fatalf("bucket %d: %d, want %d", want.PositiveBucket.Offset+int32(i), gotAt[want.PositiveBucket.Offset+int32(i)], n)
				}
			}
			gmin, _ := got.Min.Value()
			gmax, _ := got.Max.Value()
			if gmin != slices.Min(all) || gmax != slices.Max(all) {
				t.Errorf("min %g max %g, want %g %g", gmin, gmax, slices.Min(all), slices.Max(all))
			}
		})
	}
}

// Explicit-bucket merges keep at most one exemplar per bucket, the newer
// interval's first, and refuse different bounds.
func TestMergeHistogramExemplars(t *testing.T) {
	bounds := []float64{0.1, 1}
	ex := func(v float64, id byte) metricdata.Exemplar[float64] {
		return metricdata.Exemplar[float64]{Value: v, TraceID: []byte{id}}
	}
	older := metricdata.HistogramDataPoint[float64]{Bounds: bounds, BucketCounts: []uint64{1, 1, 0}, Count: 2, Sum: 0.55,
		Min: metricdata.NewExtrema(0.05), Max: metricdata.NewExtrema(0.5), Exemplars: []metricdata.Exemplar[float64]{ex(0.05, 1), ex(0.5, 2)}}
	newer := metricdata.HistogramDataPoint[float64]{Bounds: bounds, BucketCounts: []uint64{0, 1, 1}, Count: 2, Sum: 2.3,
		Min: metricdata.NewExtrema(0.3), Max: metricdata.NewExtrema(2.0), Exemplars: []metricdata.Exemplar[float64]{ex(0.3, 3), ex(2.0, 4)}}
	got, ok := mergeHist(older, newer)
	if !ok || got.Count != 4 || !slices.Equal(got.BucketCounts, []uint64{1, 2, 1}) {
		t.Fatalf("%v %+v", ok, got)
	}
	var ids []byte
	for _, e := range got.Exemplars {
		ids = append(ids, e.TraceID[0])
	}
	if !slices.Equal(ids, []byte{3, 4, 1}) {
		t.Errorf("exemplars from intervals %v, want the newer's two and the older's for the first bucket", ids)
	}
	if mn, _ := got.Min.Value(); mn != 0.05 {
		t.Errorf("min %g", mn)
	}
	if mx, _ := got.Max.Value(); mx != 2.0 {
		t.Errorf("max %g", mx)
	}
	newer.Bounds = []float64{0.2, 1}
	if _, ok := mergeHist(older, newer); ok {
		t.Error("histograms with different bounds merged")
	}
}

func sumOf[N int64 | float64](v N, attrs ...attribute.KeyValue) metricdata.Sum[N] {
	return metricdata.Sum[N]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
		DataPoints: []metricdata.DataPoint[N]{{Attributes: attribute.NewSet(attrs...), Value: v}}}
}

func histOf(bounds []float64, attrs ...attribute.KeyValue) metricdata.Histogram[float64] {
	return metricdata.Histogram[float64]{Temporality: metricdata.DeltaTemporality, DataPoints: []metricdata.HistogramDataPoint[float64]{{
		Attributes: attribute.NewSet(attrs...), Bounds: bounds, BucketCounts: make([]uint64, len(bounds)+1), Count: 0}}}
}

func export(scope instrumentation.Scope, ms ...metricdata.Metrics) *metricdata.ResourceMetrics {
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Scope: scope, Metrics: ms}}}
}

// A carried point that cannot merge with the next interval of its series
// (its histogram bounds or its type changed) is given up on, and counted.
func TestCarryCountsWhatCannotMerge(t *testing.T) {
	scope := instrumentation.Scope{Name: "test"}
	route := attribute.String("route", "/a")
	m := func(data metricdata.Aggregation) metricdata.Metrics { return metricdata.Metrics{Name: "m", Data: data} }
	for _, tc := range []struct {
		name          string
		carried, next metricdata.Aggregation
		// merged: next goes through mergeInto, else it is carried too.
		merged bool
	}{
		{"bounds changed, carried", histOf([]float64{1, 2}, route), histOf([]float64{1, 3}, route), false},
		{"bounds changed, exported", histOf([]float64{1, 2}, route), histOf([]float64{1, 3}, route), true},
		{"type changed, carried", sumOf[int64](3, route), sumOf[float64](3, route), false},
		{"type changed, exported", sumOf[int64](3, route), sumOf[float64](3, route), true},
		{"type changed, another series exported", sumOf[int64](3, route), histOf([]float64{1}, attribute.String("route", "/b")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCarry(10)
			c.add(export(scope, m(tc.carried)))
			if tc.merged {
				out := c.mergeInto(export(scope, m(tc.next)))
				if n := dataPoints(out); n != 1 {
					t.Errorf("the export holds %d points, want the new one", n)
				}
			} else {
				c.add(export(scope, m(tc.next)))
				if c.points != 1 {
					t.Errorf("%d points carried, want the newer one", c.points)
				}
			}
			if c.dropped != 1 {
				t.Errorf("%d carried points counted as dropped, want 1", c.dropped)
			}
		})
	}
}

// Two meters of one name but different versions, schema URLs or
// attributes are different scopes: their series stay apart in the carry.
func TestCarryKeepsScopesApart(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b instrumentation.Scope
	}{
		{"version", instrumentation.Scope{Name: "m", Version: "1"}, instrumentation.Scope{Name: "m", Version: "2"}},
		{"schema URL", instrumentation.Scope{Name: "m", SchemaURL: "https://opentelemetry.io/schemas/1.26.0"},
			instrumentation.Scope{Name: "m", SchemaURL: "https://opentelemetry.io/schemas/1.37.0"}},
		{"attributes", instrumentation.Scope{Name: "m", Attributes: attribute.NewSet(attribute.String("k", "a"))},
			instrumentation.Scope{Name: "m", Attributes: attribute.NewSet(attribute.String("k", "b"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCarry(10)
			m := func(v int64) metricdata.Metrics { return metricdata.Metrics{Name: "requests", Data: sumOf(v)} }
			c.add(&metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Scope: tc.a, Metrics: []metricdata.Metrics{m(3)}}, {Scope: tc.b, Metrics: []metricdata.Metrics{m(5)}}}})
			out := c.mergeInto(export(tc.b, m(7)))
			got := map[instrumentation.Scope][]int64{}
			for _, sm := range out.ScopeMetrics {
				for _, mm := range sm.Metrics {
					for _, dp := range mm.Data.(metricdata.Sum[int64]).DataPoints {
						got[sm.Scope] = append(got[sm.Scope], dp.Value)
					}
				}
			}
			if len(got) != 2 || !slices.Equal(got[tc.a], []int64{3}) || !slices.Equal(got[tc.b], []int64{12}) {
				t.Errorf("values by scope %v, want %v: [3] and %v: [12]", got, tc.a, tc.b)
			}
		})
	}
}

// Past the limit, the carry drops the series whose latest point is
// oldest, counts them, and keeps the rest of the metric and other metrics.
func TestCarryBoundDropsOldest(t *testing.T) {
	scope := instrumentation.Scope{Name: "test"}
	t1 := time.Unix(100, 0)
	t2 := t1.Add(time.Minute)
	interval := func(at time.Time, routes ...string) *metricdata.ResourceMetrics {
		d := metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true}
		for _, r := range routes {
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("route", r)), Time: at, Value: 1})
		}
		return export(scope, metricdata.Metrics{Name: "requests", Data: d}, metricdata.Metrics{Name: "other", Data: sumOf[int64](1)})
	}
	c := newCarry(3)
	c.add(interval(t1, "/a", "/b", "/c"))
	c.add(interval(t2, "/d", "/e", "/a"))
	// /a is updated at t2; /b and /c, the oldest, go.
	if c.points != 4 || c.dropped != 2 {
		t.Fatalf("%d points carried, %d dropped; want 4 (3 series and the other metric) and 2", c.points, c.dropped)
	}
	var got []string
	for _, sm := range c.mergeInto(&metricdata.ResourceMetrics{}).ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				r, _ := dp.Attributes.Value("route")
				got = append(got, m.Name+r.AsString()+":"+strconv.FormatInt(dp.Value, 10))
			}
		}
	}
	slices.Sort(got)
	if want := []string{"other:2", "requests/a:2", "requests/d:1", "requests/e:1"}; !slices.Equal(got, want) {
		t.Errorf("carried %v, want %v", got, want)
	}
}
