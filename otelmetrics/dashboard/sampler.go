package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Defaults of the snapshot ring.
const (
	DefaultInterval = 5 * time.Second
	DefaultWindow   = 15 * time.Minute
	// MaxSlots bounds window/interval, so a one-second interval over a
	// day cannot be asked for by mistake.
	MaxSlots = 2880
	// DefaultMaxSeries bounds the series the ring follows. The SDK's
	// cardinality limit already bounds each instrument; this only guards
	// a Collector fed by something else.
	DefaultMaxSeries = 100_000
)

// ErrInvalid is matched, under errors.Is, by the errors New returns for bad
// options and by ConfigFromEnv's.
var ErrInvalid = errors.New("dashboard: invalid option")

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

// WithInterval sets how often a snapshot is taken. By default, every 5 s.
// A value of zero or less keeps the default.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.interval = d
		}
		return c
	})
}

// WithWindow sets how far back the ring reaches. By default, 15 minutes.
// A value of zero or less keeps the default.
func WithWindow(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.window = d
		}
		return c
	})
}

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

// cumulative is a series' value at the latest snapshot.
type cumulative struct {
	count   uint64
	sum     float64
	classic []uint64
	exp     Exponential
}

// slot is what changed between two snapshots.
type slot struct {
	at      time.Time
	dur     time.Duration
	entries []entry
}

// entry is one series' change within a slot: a classic bucket delta, or
// an exponential one.
type entry struct {
	id      int32
	count   uint64
	sum     float64
	classic []uint64
	exp     *Exponential
}

// New returns a Dashboard reading from src. Call Start to take snapshots
// in the background, or Snapshot to take them by hand.
func New(src Collector, opts ...Option) (*Dashboard, error) {
	c := config{interval: DefaultInterval, window: DefaultWindow, instrument: mbsemconv.InstrumentHTTPServerDuration,
		maxSeries: DefaultMaxSeries, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		c = o.apply(c)
	}
	if src == nil {
		return nil, fmt.Errorf("%w: no collector", ErrInvalid)
	}
	if reason := checkRing(c.interval, c.window); reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, reason)
	}
	return &Dashboard{src: src, cfg: c, index: map[seriesKey]int32{}, ends: map[[2]string]int32{},
		kind: "classic", stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// checkRing says what is wrong with a ring shape, or "".
func checkRing(interval, window time.Duration) string {
	if window < interval {
		return fmt.Sprintf("the window %s is shorter than the interval %s", window, interval)
	}
	if n := window / interval; n > MaxSlots {
		return fmt.Sprintf("the window %s over the interval %s is %d snapshots, at most %d allowed", window, interval, n, MaxSlots)
	}
	return ""
}

// Interval is the time between snapshots.
func (d *Dashboard) Interval() time.Duration { return d.cfg.interval }

// Window is how far back the ring reaches.
func (d *Dashboard) Window() time.Duration { return d.cfg.window }

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
				for _, dp := range h.DataPoints {
					if e, ok := d.expDelta(scope, dp); ok {
						entries = append(entries, e)
					}
				}
			}
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
	s.bounds = bounds
	ek := [2]string{s.method, s.handler}
	if s.overflow {
		ek = [2]string{"", OverflowHandler}
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

// classicDelta returns a series' change since the last snapshot, its
// bucket counts taken from the end of arena when they fit.
func (d *Dashboard) classicDelta(scope string, dp metricdata.HistogramDataPoint[float64], arena []uint64) (entry, []uint64, bool) {
	id, ok := d.lookup(scope, dp.Attributes, dp.Bounds)
	if !ok {
		return entry{}, arena, false
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
			e.classic = arena[len(arena)-n : len(arena) : len(arena)]
		} else {
			e.classic = make([]uint64, n)
		}
		for i, v := range dp.BucketCounts {
			e.classic[i] = satSub(v, p.classic[i])
		}
	}
	p.count, p.sum = dp.Count, dp.Sum
	copy(p.classic, dp.BucketCounts)
	d.series[id].bounds = dp.Bounds
	return e, arena, keep
}

func (d *Dashboard) expDelta(scope string, dp metricdata.ExponentialHistogramDataPoint[float64]) (entry, bool) {
	id, ok := d.lookup(scope, dp.Attributes, nil)
	if !ok {
		return entry{}, false
	}
	cur := Exponential{Scale: dp.Scale, ZeroThreshold: dp.ZeroThreshold, ZeroCount: dp.ZeroCount,
		PositiveOffset: dp.PositiveBucket.Offset, Positive: dp.PositiveBucket.Counts,
		NegativeOffset: dp.NegativeBucket.Offset, Negative: dp.NegativeBucket.Counts}
	p := &d.prev[id]
	if dp.Count < p.count {
		*p = cumulative{}
	}
	e := entry{id: id, count: dp.Count - p.count, sum: dp.Sum - p.sum}
	if e.count != 0 {
		delta := cur.sub(p.exp)
		e.exp = &delta
	}
	// The SDK reuses nothing it hands out, but keep our own copy anyway.
	cur.Positive = append([]uint64(nil), cur.Positive...)
	cur.Negative = append([]uint64(nil), cur.Negative...)
	p.count, p.sum, p.exp = dp.Count, dp.Sum, cur
	return e, e.count != 0 && !d.last.IsZero()
}

// OverflowHandler is the handler shown for requests the SDK recorded in
// its overflow series once the cardinality limit was reached.
const OverflowHandler = "(overflow)"

// describe turns a point's attributes into the labels the scrape endpoint
// shows for it, so the page and the series agree.
func describe(attrs attribute.Set) seriesInfo {
	var s seriesInfo
	if v, ok := attrs.Value(mbsemconv.KeyOverflow); ok && v.AsBool() {
		s.overflow, s.handler = true, OverflowHandler
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
