package collector

import "go.opentelemetry.io/otel/sdk/metric/metricdata"

// split cuts rm into exports of at most size data points each (all of rm
// when size is 0). The exporter splits rather than the SDK's reader so
// that it sees every part of one collection: the carried points merge in
// once, and each part's fate (arrived, may have, did not) is its own.
func split(rm *metricdata.ResourceMetrics, size int) []*metricdata.ResourceMetrics {
	if size <= 0 || dataPoints(rm) <= size {
		return []*metricdata.ResourceMetrics{rm}
	}
	var out []*metricdata.ResourceMetrics
	var cur *metricdata.ResourceMetrics
	room := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n := metricPoints(m.Data)
			for from := 0; from < n || (n == 0 && from == 0); {
				if cur == nil || room == 0 {
					cur = &metricdata.ResourceMetrics{Resource: rm.Resource}
					out = append(out, cur)
					room = size
				}
				to := min(n, from+room)
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
	return out
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
