package promexport

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// durationDescription is the semconv form's description, whichever scope
// recorded the points.
const durationDescription = "Duration of HTTP server requests."

// collectErrorLogEvery bounds the log to one line per interval however
// often the endpoint is scraped while a callback keeps failing.
const collectErrorLogEvery = time.Minute

// guard keeps what the instrumented provider collects from spoiling the
// derived series: a failing callback, an instrument of the caller's that
// the exporter would name like a derived series, a duration histogram in
// a unit the endpoint cannot convert.
type guard struct {
	start    time.Time
	namer    otlptranslator.MetricNamer
	reserved map[string]bool // exported names of the derived series, without suffix

	mu         sync.Mutex
	refusals   map[refusalKey]bool // by instrument, whether refused; logged when added
	errors     int64               // collections that returned an error
	lastLog    time.Time
	suppressed int64
}

type refusalKey struct {
	scope, name, unit string
	kind              otlptranslator.MetricType
}

func newGuard(prefix string, names Names) *guard {
	g := &guard{
		start:    time.Now(),
		namer:    otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes),
		reserved: map[string]bool{},
		refusals: map[refusalKey]bool{},
	}
	for _, n := range []string{mbsemconv.NameOverflow, mbsemconv.NameCollectionErrors} {
		g.reserved[prefix+n] = true
	}
	if names != NamesSemconv {
		g.reserved[prefix+mbsemconv.NameRequests] = true
		g.reserved[prefix+mbsemconv.NameDuration+"_seconds"] = true
		g.reserved[prefix+mbsemconv.NameInProgress] = true
	}
	if names != NamesInstrumentator {
		g.reserved["http_server_request_duration_seconds"] = true
	}
	return g
}

// collectFailed counts a collection that returned an error and logs it,
// at most once per collectErrorLogEvery.
func (g *guard) collectFailed(l *slog.Logger, err error) {
	g.mu.Lock()
	g.errors++
	now := time.Now()
	if !g.lastLog.IsZero() && now.Sub(g.lastLog) < collectErrorLogEvery {
		g.suppressed++
		g.mu.Unlock()
		return
	}
	suppressed := g.suppressed
	g.lastLog, g.suppressed = now, 0
	g.mu.Unlock()
	l.Warn("collecting metrics returned an error: the instruments concerned are missing from this scrape, the rest is served",
		"err", err, "errors_not_logged", suppressed, "next_log_after", collectErrorLogEvery)
}

// errorsMetric is the count of collections that returned an error.
func (g *guard) errorsMetric(prefix string) metricdata.Metrics {
	g.mu.Lock()
	n := g.errors
	g.mu.Unlock()
	return metricdata.Metrics{
		Name:        prefix + mbsemconv.NameCollectionErrors,
		Description: "Scrapes whose collection returned an error (an instrument's callback failed); the rest of the data was served.",
		Unit:        "{scrape}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints:  []metricdata.DataPoint[int64]{{StartTime: g.start, Time: time.Now(), Value: n}},
		},
	}
}

// refused reports whether m would be exported under the name of a derived
// series, and logs it once per instrument. Two families of one name are
// an exporter error on every scrape, and one of them would be lost.
//
// The duration instrument itself in another aggregation (an exponential
// histogram) is not the caller's to rename: the translator serves it.
func (g *guard) refused(l *slog.Logger, scope instrumentation.Scope, m metricdata.Metrics) bool {
	if m.Name == mbsemconv.InstrumentHTTPServerDuration {
		return false
	}
	kind := namingType(m.Data)
	k := refusalKey{scope: scope.Name, name: m.Name, unit: m.Unit, kind: kind}
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.refusals[k]; ok {
		return r
	}
	name, err := g.namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: kind})
	r := err == nil && g.reserved[stem(name)]
	if len(g.refusals) < maxLabelCache {
		g.refusals[k] = r
	}
	if r {
		l.Warn("instrument left out of the scrape: its Prometheus name is that of a series the endpoint derives; rename the instrument",
			"instrument", m.Name, "scope", scope.Name, "prometheus_name", name)
	}
	return r
}

// stem removes the suffix Prometheus adds to a family's samples, so that
// a gauge named http_requests_total or http_request_duration_seconds_count
// is caught as well as a counter named http_requests.
func stem(name string) string {
	for _, s := range []string{"_total", "_created", "_bucket", "_count", "_sum"} {
		if t, ok := strings.CutSuffix(name, s); ok {
			return t
		}
	}
	return name
}

// namingType is the type the OTel exporter names m by.
func namingType(data metricdata.Aggregation) otlptranslator.MetricType {
	switch v := data.(type) {
	case metricdata.Histogram[int64], metricdata.Histogram[float64],
		metricdata.ExponentialHistogram[int64], metricdata.ExponentialHistogram[float64]:
		return otlptranslator.MetricTypeHistogram
	case metricdata.Sum[int64]:
		if v.IsMonotonic {
			return otlptranslator.MetricTypeMonotonicCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter
	case metricdata.Sum[float64]:
		if v.IsMonotonic {
			return otlptranslator.MetricTypeMonotonicCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		return otlptranslator.MetricTypeGauge
	case metricdata.Summary:
		return otlptranslator.MetricTypeSummary
	}
	return otlptranslator.MetricTypeUnknown
}

// secondsPer is how many seconds one of each time unit is: the
// conventions' UCUM spellings, and "µs", which Go code writes as often as
// "us".
var secondsPer = map[string]float64{"s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60, "h": 3600}

// secondsPerUnit returns how many seconds one unit is, or false, logged
// once per scope and unit, when unit is not a time unit.
func (g *guard) secondsPerUnit(l *slog.Logger, scope instrumentation.Scope, unit string) (float64, bool) {
	scale, ok := secondsPer[unit]
	if ok {
		return scale, true
	}
	k := refusalKey{scope: scope.Name, name: mbsemconv.InstrumentHTTPServerDuration, unit: unit}
	g.mu.Lock()
	_, logged := g.refusals[k]
	if !logged && len(g.refusals) < maxLabelCache {
		g.refusals[k] = true
	}
	g.mu.Unlock()
	if !logged {
		l.Warn("http.server.request.duration left out of the derived series: its unit is not a time unit",
			"scope", scope.Name, "unit", unit)
	}
	return 0, false
}

// inSeconds returns h with its boundaries, sums and exemplars in seconds,
// or false, logged once, when unit is not a time unit.
func (g *guard) inSeconds(l *slog.Logger, scope instrumentation.Scope, unit string, h metricdata.Histogram[float64]) (metricdata.Histogram[float64], bool) {
	scale, ok := g.secondsPerUnit(l, scope, unit)
	if !ok {
		return h, false
	}
	if scale == 1 {
		return h, true
	}
	points := make([]metricdata.HistogramDataPoint[float64], len(h.DataPoints))
	for i, dp := range h.DataPoints {
		bounds := make([]float64, len(dp.Bounds))
		for j, b := range dp.Bounds {
			bounds[j] = b * scale
		}
		dp.Bounds, dp.Sum = bounds, dp.Sum*scale
		if v, ok := dp.Min.Value(); ok {
			dp.Min = metricdata.NewExtrema(v * scale)
		}
		if v, ok := dp.Max.Value(); ok {
			dp.Max = metricdata.NewExtrema(v * scale)
		}
		ex := make([]metricdata.Exemplar[float64], len(dp.Exemplars))
		for j, e := range dp.Exemplars {
			e.Value *= scale
			ex[j] = e
		}
		dp.Exemplars = ex
		points[i] = dp
	}
	h.DataPoints = points
	return h, true
}

// expInSeconds is inSeconds for an exponential histogram: see
// rescaleExp for how its buckets move.
func (g *guard) expInSeconds(l *slog.Logger, scope instrumentation.Scope, unit string, h metricdata.ExponentialHistogram[float64]) (metricdata.ExponentialHistogram[float64], bool) {
	factor, ok := g.secondsPerUnit(l, scope, unit)
	if !ok {
		return h, false
	}
	if factor == 1 {
		return h, true
	}
	// A copy: the next collection reuses the points, and writes again
	// only what it has (no sum when a view drops it), so scaling them in
	// place could compound.
	points := make([]metricdata.ExponentialHistogramDataPoint[float64], len(h.DataPoints))
	for i, dp := range h.DataPoints {
		points[i] = rescaleExp(dp, factor)
	}
	h.DataPoints = points
	return h, true
}

// withoutFilteredAttributes drops from every exemplar the attributes a
// view filtered out of its point (a user agent, a client address): they
// stay out of the exposition as they stay out of the series, and
// Prometheus refuses exemplar labels over 128 runes. The data is this
// collection's own, so it is changed in place.
func withoutFilteredAttributes(data metricdata.Aggregation) {
	switch d := data.(type) {
	case metricdata.Histogram[float64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.Histogram[int64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.ExponentialHistogram[float64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.ExponentialHistogram[int64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.Sum[float64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.Sum[int64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.Gauge[float64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	case metricdata.Gauge[int64]:
		for i := range d.DataPoints {
			clearExemplars(d.DataPoints[i].Exemplars)
		}
	}
}

func clearExemplars[N int64 | float64](ex []metricdata.Exemplar[N]) {
	for i := range ex {
		ex[i].FilteredAttributes = nil
	}
}

// overflowAcc sums the duration points the SDK put in its overflow
// series, whichever form the endpoint serves.
type overflowAcc struct {
	count       uint64
	start, time time.Time
}

func (o *overflowAcc) add(points []metricdata.HistogramDataPoint[float64]) {
	for _, dp := range points {
		o.note(dp.Attributes, dp.Count, dp.StartTime, dp.Time)
	}
}

// addExp is add for the exponential points of native mode.
func (o *overflowAcc) addExp(points []metricdata.ExponentialHistogramDataPoint[float64]) {
	for _, dp := range points {
		o.note(dp.Attributes, dp.Count, dp.StartTime, dp.Time)
	}
}

func (o *overflowAcc) note(attrs attribute.Set, count uint64, start, end time.Time) {
	// The overflow set is the one attribute; most points have more.
	if attrs.Len() != 1 {
		return
	}
	if v, ok := attrs.Value(mbsemconv.KeyOverflow); !ok || !v.AsBool() {
		return
	}
	o.count += count
	if o.start.IsZero() || start.Before(o.start) {
		o.start = start
	}
	if end.After(o.time) {
		o.time = end
	}
}

// overflowMetric is metricsbridge_series_overflow_total; the first
// overflow is logged.
func (t *translator) overflowMetric(o overflowAcc) metricdata.Metrics {
	if o.count > 0 && t.overflow.CompareAndSwap(false, true) {
		metric := mbsemconv.InstrumentHTTPServerDuration
		if t.names != NamesSemconv {
			metric = t.prefix + mbsemconv.NameRequests + "_total"
		}
		t.logger.Warn("series limit reached: requests with new label sets are counted in the series labelled otel_metric_overflow=\"true\"",
			"metric", metric)
	}
	if o.time.IsZero() {
		o.start, o.time = t.guard.start, time.Now()
	}
	return metricdata.Metrics{
		Name:        t.prefix + mbsemconv.NameOverflow,
		Description: "Requests recorded into the overflow series because the series limit was reached.",
		Unit:        "{request}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints:  []metricdata.DataPoint[int64]{{StartTime: o.start, Time: o.time, Value: int64(o.count)}},
		},
	}
}

// reader is the Reader handed to the instrumented provider: a ManualReader
// that tells the endpoint when the provider shuts it down, so scrapes from
// then on answer 503 rather than an empty 200.
type reader struct {
	*sdkmetric.ManualReader
	closed *atomic.Bool
	tr     *translator
}

// DerivedProducer is what a scrape serves, for a push reader that sends
// the same series (internal/derived). The translator serialises its
// collections, so the push and the scrape may call it at once.
func (r reader) DerivedProducer() sdkmetric.Producer {
	r.tr.starts.track()
	return r.tr
}

func (r reader) Shutdown(ctx context.Context) error {
	r.closed.Store(true)
	return r.ManualReader.Shutdown(ctx)
}

// shutDownBody is the endpoint's answer, with 503, once it or the provider
// it reads was shut down.
const shutDownBody = `{"error": "Metrics endpoint is shut down"}`

func serveShutDown(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(shutDownBody))
}
