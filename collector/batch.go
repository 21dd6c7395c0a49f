package collector

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// split cuts rm into exports of at most size data points and about
// maxBytes of protobuf each (no limit when 0). The exporter splits rather
// than the SDK's reader so that it sees every part of one collection: the
// carried points merge in once, and each part's fate (arrived, may have,
// did not) is its own.
func split(rm *metricdata.ResourceMetrics, size, maxBytes int) []*metricdata.ResourceMetrics {
	const unlimited = int(^uint(0) >> 1)
	if size <= 0 {
		size = unlimited
	}
	if maxBytes <= 0 {
		if dataPoints(rm) <= size {
			return []*metricdata.ResourceMetrics{rm}
		}
		maxBytes = unlimited
	}
	var out []*metricdata.ResourceMetrics
	var cur *metricdata.ResourceMetrics
	room, bytesLeft := 0, 0
	base := attrBytes(rm.Resource.Set()) + 16
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n := metricPoints(m.Data)
			head := len(m.Name) + len(m.Description) + len(m.Unit) + len(sm.Scope.Name) + len(sm.Scope.Version) + 24
			for from := 0; from < n || (n == 0 && from == 0); {
				need := head
				if from < n {
					need += pointBytes(m.Data, from)
				}
				if cur == nil || room == 0 || bytesLeft < need {
					cur = &metricdata.ResourceMetrics{Resource: rm.Resource}
					out = append(out, cur)
					room, bytesLeft = size, maxBytes-base
				}
				bytesLeft -= head
				// At least one point goes in each part, whatever its size.
				to := from
				for to < n && to-from < room && (to == from || pointBytes(m.Data, to) <= bytesLeft) {
					bytesLeft -= pointBytes(m.Data, to)
					to++
				}
				if len(cur.ScopeMetrics) == 0 || cur.ScopeMetrics[len(cur.ScopeMetrics)-1].Scope != sm.Scope {
					cur.ScopeMetrics = append(cur.ScopeMetrics, metricdata.ScopeMetrics{Scope: sm.Scope})
				}
				part := m
				part.Data = slicePoints(m.Data, from, to)
				last := &cur.ScopeMetrics[len(cur.ScopeMetrics)-1]
				last.Metrics = append(last.Metrics, part)
				room -= to - from
				if n == 0 {
					break
				}
				from = to
			}
		}
	}
	if len(out) == 0 {
		return []*metricdata.ResourceMetrics{rm}
	}
	return out
}

// pointBytes estimates, from above, the protobuf size of point i of d.
func pointBytes(d metricdata.Aggregation, i int) int {
	switch a := d.(type) {
	case metricdata.Gauge[int64]:
		return numberBytes(a.DataPoints[i])
	case metricdata.Gauge[float64]:
		return numberBytes(a.DataPoints[i])
	case metricdata.Sum[int64]:
		return numberBytes(a.DataPoints[i])
	case metricdata.Sum[float64]:
		return numberBytes(a.DataPoints[i])
	case metricdata.Histogram[int64]:
		return histBytes(a.DataPoints[i])
	case metricdata.Histogram[float64]:
		return histBytes(a.DataPoints[i])
	case metricdata.ExponentialHistogram[int64]:
		return expBytes(a.DataPoints[i])
	case metricdata.ExponentialHistogram[float64]:
		return expBytes(a.DataPoints[i])
	case metricdata.Summary:
		p := a.DataPoints[i]
		return 48 + attrBytes(&p.Attributes) + 20*len(p.QuantileValues)
	}
	return 64
}

func numberBytes[N int64 | float64](p metricdata.DataPoint[N]) int {
	return 40 + attrBytes(&p.Attributes) + exemplarBytes(p.Exemplars)
}

func histBytes[N int64 | float64](p metricdata.HistogramDataPoint[N]) int {
	return 64 + attrBytes(&p.Attributes) + 11*len(p.BucketCounts) + 10*len(p.Bounds) + exemplarBytes(p.Exemplars)
}

func expBytes[N int64 | float64](p metricdata.ExponentialHistogramDataPoint[N]) int {
	return 96 + attrBytes(&p.Attributes) + 11*(len(p.PositiveBucket.Counts)+len(p.NegativeBucket.Counts)) + exemplarBytes(p.Exemplars)
}

func exemplarBytes[N int64 | float64](es []metricdata.Exemplar[N]) int {
	n := 0
	for _, e := range es {
		n += 64 + len(e.TraceID) + len(e.SpanID)
		for _, kv := range e.FilteredAttributes {
			n += kvBytes(kv)
		}
	}
	return n
}

func attrBytes(s *attribute.Set) int {
	n := 0
	for it := s.Iter(); it.Next(); {
		n += kvBytes(it.Attribute())
	}
	return n
}

func kvBytes(kv attribute.KeyValue) int {
	return 16 + len(kv.Key) + len(kv.Value.Emit())
}

func slicePoints(d metricdata.Aggregation, i, j int) metricdata.Aggregation {
	switch a := d.(type) {
	case metricdata.Gauge[int64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Gauge[float64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Sum[int64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Sum[float64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Histogram[int64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Histogram[float64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.ExponentialHistogram[int64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.ExponentialHistogram[float64]:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	case metricdata.Summary:
		a.DataPoints = a.DataPoints[i:j:j]
		return a
	}
	return d
}
