package promexport

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Names chooses which form of the HTTP server histogram the endpoint serves.
type Names string

// The forms the endpoint can serve. NamesInstrumentator is the series of
// prometheus-fastapi-instrumentator, http_requests_total{method,handler,status}
// and http_request_duration_seconds{method,handler}; NamesSemconv is
// http.server.request.duration as the OTel exporter names it,
// http_server_request_duration_seconds{http_request_method,http_route,...};
// NamesBoth serves both, for teams moving dashboards from one to the other.
const (
	NamesInstrumentator Names = "instrumentator"
	NamesSemconv        Names = "semconv"
	NamesBoth           Names = "both"
)

// scope is the instrumentation scope of the derived series; the
// exporter is configured to show no scope labels, so it is not visible.
var scope = instrumentation.Scope{Name: "github.com/metricsbridge/metricsbridge/promexport"}

// translator is the metric.Producer behind the endpoint. It collects the
// instrumented MeterProvider through source and derives the Python
// gateway's series from every http.server.request.duration point, from
// whichever instrumentation scope recorded it. Since both series come from
// the same points, the counter summed over status always equals the
// histogram's count, the overflow series included.
type translator struct {
	source   *sdkmetric.ManualReader
	names    Names
	prefix   string
	bounds   []float64 // of the derived histograms, in seconds
	logger   *slog.Logger
	overflow atomic.Bool // logged once
	closed   *atomic.Bool
	guard    *guard
	starts   *starts

	// nativeMax bounds the buckets per sign of a merged native histogram.
	nativeMax int

	// labels caches what a point's attribute set translates to; the sets
	// are bounded by the cardinality limit, the cache by maxLabelCache.
	mu     sync.Mutex
	labels map[attribute.Distinct]instrLabels

	// rm is collected into on every scrape, so the SDK reuses the
	// duration histogram's points and bucket counts instead of allocating
	// them again; collectMu serialises the scrapes that use it.
	collectMu sync.Mutex
	rm        metricdata.ResourceMetrics

	// How many series each form had at the previous scrape.
	instrSeries, semconvSeries atomic.Int64
}

const maxLabelCache = 1 << 16

// instrLabels is what one source attribute set becomes. The attribute sets
// of the derived series are built once here, not on every scrape: building
// them was a tenth of a scrape's allocations.
type instrLabels struct {
	hist      histKey
	status    string
	histAttrs attribute.Set // http_request_duration_seconds'
	reqAttrs  attribute.Set // http_requests_total's
}

// histKey is one http_request_duration_seconds series.
type histKey struct {
	method, handler string
	overflow        bool
}

func (t *translator) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	t.collectMu.Lock()
	defer t.collectMu.Unlock()
	rm := &t.rm
	defer detach(rm)
	begun := time.Now()
	if err := t.source.Collect(ctx, rm); err != nil {
		if errors.Is(err, sdkmetric.ErrReaderShutdown) {
			t.closed.Store(true)
			return nil, err
		}
		if errors.Is(err, sdkmetric.ErrReaderNotRegistered) {
			return nil, err // wired to no provider: nothing to derive from
		}
		// A failing callback costs its own instrument's data, not the
		// rest: the SDK collected everything else.
		t.guard.collectFailed(t.logger, err)
	}
	out := make([]metricdata.ScopeMetrics, 0, len(rm.ScopeMetrics)+1)
	instr := t.names != NamesSemconv
	semconvForm := t.names != NamesInstrumentator
	merged := mergedHistograms[histKey]{bounds: t.bounds, size: int(t.instrSeries.Load())}
	semconvMerged := mergedHistograms[attribute.Distinct]{bounds: t.bounds, size: int(t.semconvSeries.Load())}
	var overflow overflowAcc
	var inProgress inProgressAcc
	for _, sm := range rm.ScopeMetrics {
		kept := sm.Metrics[:0:0]
		for _, m := range sm.Metrics {
			if e, ok := m.Data.(metricdata.ExponentialHistogram[float64]); ok && m.Name == mbsemconv.InstrumentHTTPServerDuration {
				if e, ok = t.guard.expInSeconds(t.logger, sm.Scope, m.Unit, e); !ok {
					continue
				}
				overflow.addExp(e.DataPoints)
				t.mergeExponential(m, e, semconvForm, instr, &semconvMerged, &merged)
				continue
			}
			if m.Name == mbsemconv.InstrumentHTTPServerActive && !inProgress.add(m, t.names) {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if m.Name != mbsemconv.InstrumentHTTPServerDuration || !ok {
				if t.guard.refused(t.logger, sm.Scope, m) {
					continue
				}
				withoutFilteredAttributes(m.Data)
				kept = append(kept, m)
				continue
			}
			if h, ok = t.guard.inSeconds(t.logger, sm.Scope, m.Unit, h); !ok {
				continue
			}
			overflow.add(h.DataPoints)
			if semconvForm {
				semconvMerged.metric = metricdata.Metrics{Name: m.Name, Description: durationDescription, Unit: "s"}
				for _, dp := range h.DataPoints {
					a, created := semconvMerged.acc(dp.Attributes.Equivalent(), dp, false)
					if created {
						a.attrs = dp.Attributes
					}
					a.add(dp, nil)
				}
			}
			if instr {
				t.mu.Lock()
				for _, dp := range h.DataPoints {
					l := t.instrLabels(dp.Attributes)
					a, created := merged.acc(l.hist, dp, true)
					if created {
						a.attrs = l.histAttrs
					}
					a.add(dp, &l)
				}
				t.mu.Unlock()
			}
		}
		if len(kept) > 0 {
			out = append(out, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: kept})
		}
	}

	t.instrSeries.Store(int64(len(merged.order)))
	t.semconvSeries.Store(int64(len(semconvMerged.order)))
	derived := metricdata.ScopeMetrics{Scope: scope}
	if semconvForm && len(semconvMerged.order) > 0 {
		m := semconvMerged.metric
		m.Data = semconvMerged.data()
		derived.Metrics = append(derived.Metrics, m)
	}
	if instr {
		derived.Metrics = append(derived.Metrics, t.instrMetrics(&merged)...)
	}
	if m, ok := inProgress.metric(t.prefix); ok {
		derived.Metrics = append(derived.Metrics, m)
	}
	derived.Metrics = append(derived.Metrics, t.overflowMetric(overflow), t.guard.errorsMetric(t.prefix))
	t.starts.record(out, derived.Metrics, begun)
	out = append(out, derived)
	return out, nil
}

// detach lets the next collection into rm reuse only what Produce copied
// out: the HTTP duration histograms. The other metrics go to the exporter
// as they are and are read after Produce returns, possibly while the next
// scrape collects, so their data must not be written again.
func detach(rm *metricdata.ResourceMetrics) {
	for i := range rm.ScopeMetrics {
		ms := rm.ScopeMetrics[i].Metrics
		for j := range ms {
			if ms[j].Name == mbsemconv.InstrumentHTTPServerDuration {
				switch ms[j].Data.(type) {
				case metricdata.Histogram[float64], metricdata.ExponentialHistogram[float64]:
					continue
				}
			}
			ms[j].Data = nil
		}
	}
}

// instrLabels returns the cached translation of a point's attributes; t.mu
// is held.
func (t *translator) instrLabels(set attribute.Set) instrLabels {
	d := set.Equivalent()
	if l, ok := t.labels[d]; ok {
		return l
	}
	var l instrLabels
	if v, ok := set.Value(mbsemconv.KeyOverflow); ok && v.AsBool() {
		l.hist.overflow = true
	} else {
		method, _ := set.Value(mbsemconv.KeyHTTPMethod)
		route, _ := set.Value(mbsemconv.KeyHTTPRoute)
		l.hist.method = methodLabel(method.AsString())
		l.hist.handler = handlerLabel(route.AsString())
		if v, ok := set.Value(mbsemconv.KeyHTTPStatus); ok {
			l.status = strconv.FormatInt(v.AsInt64(), 10)
		}
	}
	l.histAttrs = l.hist.attrs()
	l.reqAttrs = l.hist.requestAttrs(l.status)
	if t.labels == nil || len(t.labels) >= maxLabelCache {
		t.labels = make(map[attribute.Distinct]instrLabels)
	}
	t.labels[d] = l
	return l
}

// instrMetrics turns the merged points into the Python gateway's series.
func (t *translator) instrMetrics(m *mergedHistograms[histKey]) []metricdata.Metrics {
	n := 0
	for _, a := range m.order {
		n += len(a.statuses)
	}
	requests := metricdata.Sum[int64]{
		Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
		DataPoints: make([]metricdata.DataPoint[int64], 0, n),
	}
	for _, a := range m.order {
		slices.SortFunc(a.statuses, func(x, y statusCount) int { return strings.Compare(x.status, y.status) })
		for _, s := range a.statuses {
			requests.DataPoints = append(requests.DataPoints, metricdata.DataPoint[int64]{
				Attributes: s.attrs,
				StartTime:  a.start,
				Time:       a.time,
				Value:      int64(s.count),
			})
		}
	}
	return []metricdata.Metrics{
		{
			Name:        t.prefix + mbsemconv.NameRequests,
			Description: "Total HTTP requests by method, route template and status code.",
			Unit:        "{request}",
			Data:        requests,
		},
		{
			Name:        t.prefix + mbsemconv.NameDuration,
			Description: "HTTP request latency in seconds by method and route template.",
			Unit:        "s",
			Data:        m.data(),
		},
	}
}

func (k histKey) attrs() attribute.Set {
	if k.overflow {
		return attribute.NewSet(mbsemconv.KeyOverflow.Bool(true))
	}
	return attribute.NewSet(mbsemconv.KeyMethod.String(k.method), mbsemconv.KeyHandler.String(k.handler))
}

func (k histKey) requestAttrs(status string) attribute.Set {
	if k.overflow {
		return attribute.NewSet(mbsemconv.KeyOverflow.Bool(true))
	}
	return attribute.NewSet(mbsemconv.KeyMethod.String(k.method), mbsemconv.KeyHandler.String(k.handler), mbsemconv.KeyStatus.String(status))
}

// mergedHistograms sums histogram points that map to the same series.
type mergedHistograms[K comparable] struct {
	metric metricdata.Metrics // the semconv form's name, unit, description
	bounds []float64          // of every series; nil: the first point's
	byKey  map[K]*histAcc
	keys   []K
	order  []*histAcc
	size   int       // the expected number of series
	accs   []histAcc // where new series come from
	counts []uint64  // where their bucket counts come from

	statuses []statusCount // where their statuses come from
}

type histAcc struct {
	attrs     attribute.Set
	bounds    []float64
	counts    []uint64
	count     uint64
	sum       float64
	start     time.Time
	time      time.Time
	exemplars []metricdata.Exemplar[float64] // at most one per bucket, the latest
	byStatus  bool
	statuses  []statusCount // a handful: the status codes one route answers with
	exp       *expState     // a native histogram's buckets, nil for a classic one
}

// init sizes the merge for as many series as the previous scrape had:
// series only come and go with the cardinality limit's reset, so growing
// the map and slices from nothing on every scrape would be wasted work.
func (m *mergedHistograms[K]) init() {
	if m.byKey != nil {
		return
	}
	m.byKey = make(map[K]*histAcc, m.size)
	m.keys = make([]K, 0, m.size)
	m.order = make([]*histAcc, 0, m.size)
	m.accs = make([]histAcc, 0, m.size)
}

// newAcc returns a zero series, from one allocation for the expected
// number of them.
func (m *mergedHistograms[K]) newAcc() *histAcc {
	if len(m.accs) == cap(m.accs) {
		return new(histAcc)
	}
	m.accs = m.accs[:len(m.accs)+1]
	return &m.accs[len(m.accs)-1]
}

// newStatuses returns room for a series' first few statuses, likewise.
func (m *mergedHistograms[K]) newStatuses() []statusCount {
	const room = 4
	if len(m.statuses)+room > cap(m.statuses) {
		m.statuses = make([]statusCount, 0, max(m.size, 1)*room)
	}
	i := len(m.statuses)
	m.statuses = m.statuses[:i+room]
	return m.statuses[i : i : i+room]
}

// newCounts returns n zero bucket counts, likewise.
func (m *mergedHistograms[K]) newCounts(n int) []uint64 {
	if len(m.counts)+n > cap(m.counts) {
		m.counts = make([]uint64, 0, max(m.size, 1)*n)
	}
	m.counts = m.counts[:len(m.counts)+n]
	return m.counts[len(m.counts)-n : len(m.counts) : len(m.counts)]
}

// acc returns the series of key, created with dp's boundaries if new.
func (m *mergedHistograms[K]) acc(key K, dp metricdata.HistogramDataPoint[float64], byStatus bool) (a *histAcc, created bool) {
	if a := m.byKey[key]; a != nil {
		return a, false
	}
	bounds := m.bounds
	if bounds == nil {
		bounds = dp.Bounds
	}
	return m.register(key, histAcc{bounds: bounds, counts: m.newCounts(len(bounds) + 1), start: dp.StartTime, time: dp.Time}, byStatus), true
}

// register adds a new series of key, set to first, in the order of arrival.
func (m *mergedHistograms[K]) register(key K, first histAcc, byStatus bool) *histAcc {
	m.init()
	a := m.newAcc()
	*a = first
	a.byStatus = byStatus
	if byStatus {
		a.statuses = m.newStatuses()
	}
	m.byKey[key] = a
	m.keys = append(m.keys, key)
	m.order = append(m.order, a)
	return a
}

// add merges dp, counted under status when the series keeps statuses.
func (a *histAcc) add(dp metricdata.HistogramDataPoint[float64], status *instrLabels) {
	if a.exp != nil {
		a.addClassicToExp(dp, status)
		return
	}
	if slices.Equal(a.bounds, dp.Bounds) {
		for i, c := range dp.BucketCounts {
			a.counts[i] += c
		}
	} else {
		// Without the bridge's views each scope has its own boundaries
		// (promexport.New on any provider). Each bucket's count goes to
		// the first of ours that holds its upper bound: the same on every
		// scrape, and no request is dropped.
		for i, c := range dp.BucketCounts {
			j := len(a.bounds)
			if i < len(dp.Bounds) {
				j, _ = slices.BinarySearch(a.bounds, dp.Bounds[i])
			}
			a.counts[j] += c
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
	for _, e := range dp.Exemplars {
		a.addExemplar(e)
	}
}

// statusCount is one http_requests_total series of a histogram series.
type statusCount struct {
	status string
	attrs  attribute.Set
	count  uint64
}

// countStatus adds n requests under l's status, when the series keeps
// statuses. A slice searched in order costs less than a map for the few
// statuses one route answers with; the SDK's cardinality limit bounds them.
func (a *histAcc) countStatus(l *instrLabels, n uint64) {
	if !a.byStatus {
		return
	}
	for i := range a.statuses {
		if a.statuses[i].status == l.status {
			a.statuses[i].count += n
			return
		}
	}
	a.statuses = append(a.statuses, statusCount{status: l.status, attrs: l.reqAttrs, count: n})
}

// addExemplar keeps the latest exemplar per bucket, with only its trace
// and span: the attributes a view filtered out of the point (a user agent,
// a client address) stay out of the exposition too.
func (a *histAcc) addExemplar(e metricdata.Exemplar[float64]) {
	if len(e.TraceID) == 0 {
		return
	}
	b, _ := slices.BinarySearch(a.bounds, e.Value)
	if a.exemplars == nil {
		a.exemplars = make([]metricdata.Exemplar[float64], len(a.bounds)+1)
	}
	if e.Time.After(a.exemplars[b].Time) {
		e.FilteredAttributes = nil
		a.exemplars[b] = e
	}
}

func (m *mergedHistograms[K]) histogram() metricdata.Histogram[float64] {
	h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
	h.DataPoints = make([]metricdata.HistogramDataPoint[float64], 0, len(m.order))
	for _, a := range m.order {
		dp := metricdata.HistogramDataPoint[float64]{
			Attributes:   a.attrs,
			StartTime:    a.start,
			Time:         a.time,
			Count:        a.count,
			Bounds:       a.bounds,
			BucketCounts: a.counts,
			Sum:          a.sum,
		}
		for _, e := range a.exemplars {
			if !e.Time.IsZero() {
				dp.Exemplars = append(dp.Exemplars, e)
			}
		}
		h.DataPoints = append(h.DataPoints, dp)
	}
	return h
}

// methodLabel returns the method label for an http.request.method value:
// the standard method, or "_OTHER", so bogus methods cannot add series.
func methodLabel(m string) string { return mbsemconv.Method(m) }

// handlerLabel returns the handler label for an http.route value: the
// template's path, also when an instrumentation passed a ServeMux pattern
// on as it was, or "none".
func handlerLabel(route string) string {
	if t := mbsemconv.Route(route); t != "" {
		return t
	}
	return mbsemconv.HandlerNone
}
