package promexport

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// inProgressAcc derives prometheus-fastapi-instrumentator's
// http_requests_inprogress{method} from http.server.active_requests, summed
// over url.scheme and over the scopes that record it. The instrumentator's
// gauge also has a handler label where its framework routes before the
// request is counted; here a request is counted before any router has
// matched it, and the conventions leave http.route off the instrument for
// that reason, so the gauge has none rather than a handler="none" that
// would read as "matched no route".
type inProgressAcc struct {
	seen    bool
	byKey   map[inProgressKey]int64
	keys    []inProgressKey
	latest  time.Time
	metrics []metricdata.Metrics
}

type inProgressKey struct {
	method   string
	overflow bool
}

// add takes m's points when m is http.server.active_requests in the form
// the bridge records it, and reports whether m is to be served under its
// own name as well (the semconv form).
func (a *inProgressAcc) add(m metricdata.Metrics, names Names) (keep bool) {
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok || s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality || names == NamesSemconv {
		return true
	}
	a.seen = true
	for _, dp := range s.DataPoints {
		var k inProgressKey
		if v, ok := dp.Attributes.Value(mbsemconv.KeyOverflow); ok && v.AsBool() {
			k.overflow = true
		} else {
			v, _ := dp.Attributes.Value(mbsemconv.KeyHTTPMethod)
			k.method = methodLabel(v.AsString())
		}
		if a.byKey == nil {
			a.byKey = make(map[inProgressKey]int64, 4)
		}
		if _, ok := a.byKey[k]; !ok {
			a.keys = append(a.keys, k)
		}
		a.byKey[k] += dp.Value
		if dp.Time.After(a.latest) {
			a.latest = dp.Time
		}
	}
	return names == NamesBoth
}

// metric is the derived gauge, or false when nothing recorded
// http.server.active_requests (METRICS_IN_PROGRESS off).
func (a *inProgressAcc) metric(prefix string) (metricdata.Metrics, bool) {
	if !a.seen {
		return metricdata.Metrics{}, false
	}
	g := metricdata.Gauge[int64]{DataPoints: make([]metricdata.DataPoint[int64], 0, len(a.keys))}
	for _, k := range a.keys {
		attrs := attribute.NewSet(mbsemconv.KeyMethod.String(k.method))
		if k.overflow {
			attrs = attribute.NewSet(mbsemconv.KeyOverflow.Bool(true))
		}
		g.DataPoints = append(g.DataPoints, metricdata.DataPoint[int64]{Attributes: attrs, Time: a.latest, Value: a.byKey[k]})
	}
	return metricdata.Metrics{
		Name:        prefix + mbsemconv.NameInProgress,
		Description: "HTTP requests in progress by method.",
		Unit:        "{request}",
		Data:        g,
	}, true
}
