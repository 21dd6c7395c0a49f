package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge"
	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Defaults of the snapshot ring.
const (
	defaultInterval = 5 * time.Second
	defaultWindow   = 15 * time.Minute
	// maxSlots bounds window/interval, so a one-second interval over a
	// day cannot be asked for by mistake.
	maxSlots = 2880
	// defaultMaxSeries bounds the series the ring follows. The SDK's
	// cardinality limit already bounds each instrument; this only guards
	// a Collector fed by something else.
	defaultMaxSeries = 100_000
)

// ErrConfig is matched, under errors.Is, by the errors New returns for bad
// options and by ConfigFromEnv's; it is the module's one configuration
// sentinel, metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

// Collector is where snapshots come from: an sdkmetric.Reader registered
// with the instrumented MeterProvider (a ManualReader, or the scrape
// endpoint's own reader) fits. It must report cumulative temporality.
type Collector interface {
	Collect(ctx context.Context, rm *metricdata.ResourceMetrics) error
}

type config struct {
	interval, window time.Duration
	instrument       string
	maxSeries        int
	logger           *slog.Logger
}

// Option configures New.
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithInstrument names the duration histogram to read. By default,
// http.server.request.duration, which the bridge's middleware, otelhttp
// and otelgin record.
func WithInstrument(name string) Option {
	return optionFunc(func(c config) config {
		if name != "" {
			c.instrument = name
		}
		return c
	})
}

// WithLogger receives collection errors and the series-limit warning. By
// default, nothing is logged. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// Dashboard keeps the ring of snapshots behind the summary and the page.
type Dashboard struct {
	src Collector
	cfg config

	mu     sync.Mutex
	series []seriesInfo
	index  map[seriesKey]int32
	ends   map[[2]string]int32 // (method, handler) -> endpoint id
	prev   []cumulative        // by series id
	ring   []slot              // oldest first, at most cfg.window/cfg.interval
	last   time.Time           // the latest snapshot; zero before the first
	kind   string              // "classic" or "exponential"
	warned bool
	// layouts are the distinct classic bucket layouts seen, so series
	// sharing one share its slice and the summary compares layouts by
	// address.
	layouts [][]float64
	// scratch collects a snapshot's exponential deltas before they are
	// copied into one allocation of exactly their size.
	scratch []uint64
	// cached is the encoded summary of the snapshot taken at cachedAt.
	cached   []byte
	cachedAt time.Time

	startOnce, stopOnce sync.Once
	stop, done          chan struct{}
}

// seriesKey tells series apart: by instrumentation scope and attributes.
type seriesKey struct {
	scope string
	attrs attribute.Distinct
}

type seriesInfo struct {
	method, handler, status string
	overflow, serverError   bool
	endpoint                int32
	bounds                  []float64
}

// cumulative is a series' value at the latest snapshot; an exponential
// one at no finer scale than maxSchema.
type cumulative struct {
	count   uint64
	sum     float64
	classic []uint64
	exp     exponential
}

// maxLayouts bounds the classic layouts shared between series; a series
// with yet another layout keeps a copy of its own.
const maxLayouts = 16

// slot is what changed between two snapshots.
type slot struct {
	at      time.Time
	dur     time.Duration
	entries []entry
}

// entry is one series' change within a slot: a classic bucket delta
// (buckets, on the series' bounds), or an exponential one (exp, with the
// positive then the negative buckets in buckets). An exponential delta
// holds only what changed: the buckets from the first changed one to the
// last, or, when fewer than half of those changed, each changed bucket as
// one word (its index from the first in the high bits, its count in the
// low ones). A series spanning the SDK's 160 buckets that got a few
// requests costs a few words.
type entry struct {
	id      int32
	count   uint64
	sum     float64
	buckets []uint64
	exp     *expDelta
}

// expDelta is the rest of an exponential entry.
type expDelta struct {
	posOffset, negOffset int32
	positives            int32 // how many of the entry's words are positive
	scale                int16
	sparse               bool // words are index<<countBits | count
	zeroThreshold        float64
	zeroCount            uint64
}

// A sparse word's count has countBits bits, its index the rest.
const (
	countBits = 40
	countMask = 1<<countBits - 1
)

// exponential returns an exponential entry's change as a histogram sharing
// the entry's buckets.
func (e *entry) exponential() exponential {
	x := e.exp
	return exponential{Scale: int32(x.scale), ZeroThreshold: x.zeroThreshold, ZeroCount: x.zeroCount,
		PositiveOffset: x.posOffset, Positive: e.buckets[:x.positives],
		NegativeOffset: x.negOffset, Negative: e.buckets[x.positives:]}
}

// pendingExp is an exponential entry whose buckets are still in scratch.
type pendingExp struct {
	entry      int
	delta      expDelta
	start, end int
}

// New returns a Dashboard reading from src, with the ring shaped by cfg
// (ConfigFromEnv's, or a Config built in code: a zero Interval or Window
// keeps the default of 5 s or 15 minutes; Enabled is for the caller, who
// mounts the handlers or not). Call Start to take snapshots in the
// background, or Snapshot to take them by hand.
func New(src Collector, cfg Config, opts ...Option) (*Dashboard, error) {
	c := config{interval: defaultInterval, window: defaultWindow, instrument: mbsemconv.InstrumentHTTPServerDuration,
		maxSeries: defaultMaxSeries, logger: slog.New(slog.DiscardHandler)}
	if cfg.Interval != 0 {
		c.interval = cfg.Interval
	}
	if cfg.Window != 0 {
		c.window = cfg.Window
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	if src == nil {
		return nil, fmt.Errorf("dashboard: %w: no collector", ErrConfig)
	}
	if c.interval < 0 || c.window < 0 {
		return nil, fmt.Errorf("dashboard: %w: a negative interval %s or window %s", ErrConfig, c.interval, c.window)
	}
	if reason := checkRing(c.interval, c.window); reason != "" {
		return nil, fmt.Errorf("dashboard: %w: %s", ErrConfig, reason)
	}
	return &Dashboard{src: src, cfg: c, index: map[seriesKey]int32{}, ends: map[[2]string]int32{},
		kind: "classic", stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// checkRing says what is wrong with a ring shape, or "".
func checkRing(interval, window time.Duration) string {
	if window < interval {
		return fmt.Sprintf("the window %s is shorter than the interval %s", window, interval)
	}
	if n := window / interval; n > maxSlots {
		return fmt.Sprintf("the window %s over the interval %s is %d snapshots, at most %d allowed", window, interval, n, maxSlots)
	}
	return ""
}

// Start takes a snapshot now and then every interval until Stop. Calls
// after the first do nothing.
func (d *Dashboard) Start() {
	d.startOnce.Do(func() {
		go func() {
			defer close(d.done)
			t := time.NewTicker(d.cfg.interval)
			defer t.Stop()
			for {
				if err := d.Snapshot(context.Background()); err != nil {
					d.cfg.logger.Warn("dashboard snapshot failed", "err", err)
				}
				select {
				case <-t.C:
				case <-d.stop:
					return
				}
			}
		}()
	})
}

// Stop ends the background snapshots started by Start and waits for the
// one under way. It is safe to call more than once, and without Start.
func (d *Dashboard) Stop() {
	d.stopOnce.Do(func() {
		close(d.stop)
		started := true
		d.startOnce.Do(func() { started = false })
		if started {
			<-d.done
		}
	})
}

// Snapshot collects once and appends what changed since the previous
// snapshot to the ring. The first snapshot only sets the baseline.
func (d *Dashboard) Snapshot(ctx context.Context) error {
	var rm metricdata.ResourceMetrics
	// Collecting happens outside the lock: a summary being served never
	// waits for the SDK, and the SDK never waits for a summary.
	if err := d.src.Collect(ctx, &rm); err != nil {
		return fmt.Errorf("dashboard: collect: %w", err)
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	var entries []entry
	var pending []pendingExp
	d.scratch = d.scratch[:0]
	// Where one instrument is aggregated both ways, the exponential
	// histogram is read and the classic one left out, so no request
	// counts twice.
	exponential := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, ok := m.Data.(metricdata.ExponentialHistogram[float64]); ok && m.Name == d.cfg.instrument {
				exponential = true
			}
		}
	}
	for _, sm := range rm.ScopeMetrics {
		// Each instrumentation (the middleware, otelhttp) records its own
		// series; the endpoint rows and statuses add them up, as the
		// scrape endpoint does.
		scope := sm.Scope.Name
		for _, m := range sm.Metrics {
			if m.Name != d.cfg.instrument {
				continue
			}
			switch h := m.Data.(type) {
			case metricdata.Histogram[float64]:
				if exponential {
					continue
				}
				d.kind = "classic"
				// One allocation for the slot's entries and one for all
				// their bucket counts: the ring's size is what a slot
				// holds, not what the allocator rounds it up to.
				entries = slices.Grow(entries, len(h.DataPoints))
				var arena []uint64
				if len(h.DataPoints) > 0 {
					arena = make([]uint64, 0, len(h.DataPoints)*len(h.DataPoints[0].BucketCounts))
				}
				for _, dp := range h.DataPoints {
					var e entry
					var ok bool
					if e, arena, ok = d.classicDelta(scope, dp, arena); ok {
						entries = append(entries, e)
					}
				}
			case metricdata.ExponentialHistogram[float64]:
				d.kind = "exponential"
				entries = slices.Grow(entries, len(h.DataPoints))
				for _, dp := range h.DataPoints {
					if e, pe, ok := d.expDelta(scope, dp); ok {
						pe.entry = len(entries)
						entries = append(entries, e)
						pending = append(pending, pe)
					}
				}
			}
		}
	}
	if len(pending) > 0 {
		// One allocation each for the slot's exponential headers and
		// buckets, of exactly their size.
		counts := slices.Clone(d.scratch)
		deltas := make([]expDelta, len(pending))
		for i, pe := range pending {
			deltas[i] = pe.delta
			entries[pe.entry].buckets = counts[pe.start:pe.end:pe.end]
			entries[pe.entry].exp = &deltas[i]
		}
	}
	if !d.last.IsZero() {
		slots := int(d.cfg.window / d.cfg.interval)
		if len(d.ring) == slots {
			copy(d.ring, d.ring[1:])
			d.ring = d.ring[:slots-1]
		}
		d.ring = append(d.ring, slot{at: now, dur: now.Sub(d.last), entries: entries})
	}
	d.last = now
	return nil
}

// lookup returns the id of the series with these attributes, adding it;
// false when the series limit is reached.
func (d *Dashboard) lookup(scope string, attrs attribute.Set, bounds []float64) (int32, bool) {
	key := seriesKey{scope, attrs.Equivalent()}
	if id, ok := d.index[key]; ok {
		return id, true
	}
	if len(d.series) >= d.cfg.maxSeries {
		if !d.warned {
			d.warned = true
			d.cfg.logger.Warn("dashboard: series limit reached; new series are left out of the summary", "limit", d.cfg.maxSeries)
		}
		return 0, false
	}
	s := describe(attrs)
	s.bounds = d.layout(bounds)
	ek := [2]string{s.method, s.handler}
	if s.overflow {
		ek = [2]string{"", overflowHandler}
	}
	ep, ok := d.ends[ek]
	if !ok {
		ep = int32(len(d.ends))
		d.ends[ek] = ep
	}
	s.endpoint = ep
	id := int32(len(d.series))
	d.series = append(d.series, s)
	d.prev = append(d.prev, cumulative{})
	d.index[key] = id
	return id, true
}

// layout returns bounds as a slice shared with the series of the same
// layout, while there are few layouts.
func (d *Dashboard) layout(bounds []float64) []float64 {
	if bounds == nil {
		return nil
	}
	for _, l := range d.layouts {
		if slices.Equal(l, bounds) {
			return l
		}
	}
	l := slices.Clone(bounds)
	if len(d.layouts) < maxLayouts {
		d.layouts = append(d.layouts, l)
	}
	return l
}

// classicDelta returns a series' change since the last snapshot, its
// bucket counts taken from the end of arena when they fit.
func (d *Dashboard) classicDelta(scope string, dp metricdata.HistogramDataPoint[float64], arena []uint64) (entry, []uint64, bool) {
	id, ok := d.lookup(scope, dp.Attributes, dp.Bounds)
	if !ok {
		return entry{}, arena, false
	}
	if !slices.Equal(d.series[id].bounds, dp.Bounds) {
		// New bounds make a new series: the ring's earlier entries stay
		// on the bounds they were counted in.
		delete(d.index, seriesKey{scope, dp.Attributes.Equivalent()})
		if id, ok = d.lookup(scope, dp.Attributes, dp.Bounds); !ok {
			return entry{}, arena, false
		}
	}
	p := &d.prev[id]
	e := entry{id: id}
	if dp.Count < p.count || len(p.classic) != len(dp.BucketCounts) {
		// A new (or restarted) series: all of it happened since.
		p.count, p.sum, p.classic = 0, 0, make([]uint64, len(dp.BucketCounts))
	}
	e.count = dp.Count - p.count
	e.sum = dp.Sum - p.sum
	keep := e.count != 0 && !d.last.IsZero()
	if keep {
		n := len(dp.BucketCounts)
		if cap(arena)-len(arena) >= n {
			arena = arena[:len(arena)+n]
			e.buckets = arena[len(arena)-n : len(arena) : len(arena)]
		} else {
			e.buckets = make([]uint64, n)
		}
		for i, v := range dp.BucketCounts {
			e.buckets[i] = satSub(v, p.classic[i])
		}
	}
	p.count, p.sum = dp.Count, dp.Sum
	copy(p.classic, dp.BucketCounts)
	return e, arena, keep
}

func (d *Dashboard) expDelta(scope string, dp metricdata.ExponentialHistogramDataPoint[float64]) (entry, pendingExp, bool) {
	id, ok := d.lookup(scope, dp.Attributes, nil)
	if !ok {
		return entry{}, pendingExp{}, false
	}
	cur := exponential{Scale: dp.Scale, ZeroThreshold: dp.ZeroThreshold, ZeroCount: dp.ZeroCount,
		PositiveOffset: dp.PositiveBucket.Offset, Positive: dp.PositiveBucket.Counts,
		NegativeOffset: dp.NegativeBucket.Offset, Negative: dp.NegativeBucket.Counts}
	// Prometheus reads nothing finer than schema 8, and neither do the
	// percentiles; coarser buckets are fewer to keep.
	cur = cur.downscale(maxSchema)
	p := &d.prev[id]
	if dp.Count < p.count {
		p.count, p.sum = 0, 0
		p.exp = exponential{Positive: p.exp.Positive[:0], Negative: p.exp.Negative[:0]}
	}
	e := entry{id: id, count: dp.Count - p.count, sum: dp.Sum - p.sum}
	keep := e.count != 0 && !d.last.IsZero()
	var pe pendingExp
	if keep {
		old := p.exp
		if old.Total() == 0 {
			// Nothing to take away: keep cur's own scale rather than
			// old's (a zero value's scale 0 would coarsen cur).
			old = exponential{Scale: cur.Scale}
		}
		// The SDK lowers a series' scale when its range grows, never
		// raises it: the difference is taken at the coarser scale.
		scale := min(cur.Scale, old.Scale)
		c, o := cur.downscale(scale), old.downscale(scale)
		pe.delta = expDelta{scale: int16(scale), zeroThreshold: c.ZeroThreshold, zeroCount: satSub(c.ZeroCount, o.ZeroCount)}
		pe.start = len(d.scratch)
		pe.delta.posOffset, d.scratch = appendChanged(d.scratch, c.PositiveOffset, c.Positive, o.PositiveOffset, o.Positive)
		pe.delta.positives = int32(len(d.scratch) - pe.start)
		pe.delta.negOffset, d.scratch = appendChanged(d.scratch, c.NegativeOffset, c.Negative, o.NegativeOffset, o.Negative)
		pe.end = len(d.scratch)
		d.scratch, pe.delta.sparse = sparsen(d.scratch, pe.start, &pe.delta.positives)
		pe.end = len(d.scratch)
	}
	// Our own copy, reusing the last one's memory: the SDK's slices are
	// its own.
	p.count, p.sum = dp.Count, dp.Sum
	p.exp = exponential{Scale: cur.Scale, ZeroThreshold: cur.ZeroThreshold, ZeroCount: cur.ZeroCount,
		PositiveOffset: cur.PositiveOffset, Positive: append(p.exp.Positive[:0], cur.Positive...),
		NegativeOffset: cur.NegativeOffset, Negative: append(p.exp.Negative[:0], cur.Negative...)}
	return e, pe, keep
}

// sparsen rewrites the buckets dense[start:] (positives of them positive)
// as sparse words when fewer than half are non-zero, and every count and
// index fits its bits.
func sparsen(dense []uint64, start int, positives *int32) ([]uint64, bool) {
	seg := dense[start:]
	nonZero := 0
	for i, v := range seg {
		if v > countMask || i >= 1<<(64-countBits) {
			return dense, false
		}
		if v != 0 {
			nonZero++
		}
	}
	if 2*nonZero >= len(seg) {
		return dense, false
	}
	// Word w is written at or before the bucket it comes from.
	w, pos := 0, int(*positives)
	for i, v := range seg {
		rel := i
		if i == pos {
			*positives = int32(w)
		}
		if i >= pos {
			rel = i - pos
		}
		if v != 0 {
			seg[w] = uint64(rel)<<countBits | v
			w++
		}
	}
	if pos == len(seg) {
		*positives = int32(w)
	}
	return dense[:start+w], true
}

// appendChanged appends to dst the differences cur minus old (bucket
// ranges of one sign at one scale) from the first changed bucket to the
// last, and returns the index of the first.
func appendChanged(dst []uint64, curOff int32, cur []uint64, oldOff int32, old []uint64) (int32, []uint64) {
	diff := func(i int) uint64 {
		v := cur[i]
		if j := int(int64(curOff) + int64(i) - int64(oldOff)); j >= 0 && j < len(old) {
			v = satSub(v, old[j])
		}
		return v
	}
	first, last := -1, -1
	for i := range cur {
		if diff(i) != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return curOff, dst
	}
	for i := first; i <= last; i++ {
		dst = append(dst, diff(i))
	}
	return curOff + int32(first), dst
}

// overflowHandler is the handler shown for requests the SDK recorded in
// its overflow series once the cardinality limit was reached.
const overflowHandler = "(overflow)"

// describe turns a point's attributes into the labels the scrape endpoint
// shows for it, so the page and the series agree.
func describe(attrs attribute.Set) seriesInfo {
	var s seriesInfo
	if v, ok := attrs.Value(mbsemconv.KeyOverflow); ok && v.AsBool() {
		s.overflow, s.handler = true, overflowHandler
		return s
	}
	method, _ := attrs.Value(mbsemconv.KeyHTTPMethod)
	route, _ := attrs.Value(mbsemconv.KeyHTTPRoute)
	s.method = methodLabel(method.AsString())
	s.handler = mbsemconv.Route(route.AsString())
	if s.handler == "" {
		s.handler = "none"
	}
	if v, ok := attrs.Value(mbsemconv.KeyHTTPStatus); ok {
		code := v.AsInt64()
		s.status = strconv.FormatInt(code, 10)
		s.serverError = code >= 500 && code <= 599
	}
	return s
}

// methodLabel is the scrape endpoint's method label: the method when it
// is exactly a standard one, anything else _OTHER, so the page and the
// series agree.
func methodLabel(m string) string { return mbsemconv.Method(m) }
