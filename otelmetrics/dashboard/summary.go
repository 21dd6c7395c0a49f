package dashboard

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
)

// Summary is the JSON document GET /metrics/summary serves. Rates are
// counter differences between snapshots divided by the time between them;
// percentiles are read from the duration histogram's buckets over the same
// span. A percentile with no request behind it is null,
// and so is one over classic series with no bucket bound in common.
type Summary struct {
	// GeneratedAt is the time of the latest snapshot.
	GeneratedAt time.Time `json:"generated_at"`
	// IntervalSeconds and WindowSeconds are the ring's configuration;
	// CoveredSeconds is the span the ring holds so far (at most the
	// window).
	IntervalSeconds float64 `json:"interval_seconds"`
	WindowSeconds   float64 `json:"window_seconds"`
	CoveredSeconds  float64 `json:"covered_seconds"`
	// Histogram is "classic" or "exponential": where percentiles come from.
	Histogram string `json:"histogram"`
	// Totals are over the whole covered span.
	Totals Totals `json:"totals"`
	// Timeline has one point per snapshot, oldest first, each over the
	// interval that ended at its time.
	Timeline []Point `json:"timeline"`
	// Statuses counts requests by status code over the covered span,
	// in ascending code order.
	Statuses []Status `json:"statuses"`
	// Endpoints are the (method, handler) pairs with requests in the
	// covered span, most requests first.
	Endpoints []Endpoint `json:"endpoints"`
}

// Totals are the whole-span figures.
type Totals struct {
	Requests          uint64  `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	Errors            uint64  `json:"errors"`
	ErrorsPerSecond   float64 `json:"errors_per_second"`
	// ErrorRatio is 5xx responses over all responses (0 when none).
	ErrorRatio  float64 `json:"error_ratio"`
	P50         Seconds `json:"p50_seconds"`
	P95         Seconds `json:"p95_seconds"`
	P99         Seconds `json:"p99_seconds"`
	MeanLatency Seconds `json:"mean_seconds"`
}

// Point is one snapshot interval.
type Point struct {
	Time              time.Time `json:"time"`
	RequestsPerSecond float64   `json:"requests_per_second"`
	ErrorsPerSecond   float64   `json:"errors_per_second"`
	P50               Seconds   `json:"p50_seconds"`
	P95               Seconds   `json:"p95_seconds"`
	P99               Seconds   `json:"p99_seconds"`
}

// Status is one status code's share.
type Status struct {
	Status   string `json:"status"`
	Requests uint64 `json:"requests"`
}

// Endpoint is one row of the top-endpoints table.
type Endpoint struct {
	Method            string  `json:"method"`
	Handler           string  `json:"handler"`
	Requests          uint64  `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	Errors            uint64  `json:"errors"`
	ErrorRatio        float64 `json:"error_ratio"`
	P99               Seconds `json:"p99_seconds"`
}

// Seconds is a latency; NaN (no requests) is encoded as null.
type Seconds float64

// MarshalJSON writes null for NaN and infinities, which JSON cannot carry.
func (s Seconds) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = Seconds(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*s = Seconds(f)
	return err
}

// acc sums histogram deltas in place, keeping its memory from one use to
// the next (reset), so a summary allocates per accumulator, not per entry.
type acc struct {
	hasClassic bool
	bounds     []float64
	classic    []uint64
	hasExp     bool
	exp        exponential
}

func (a *acc) reset() {
	a.hasClassic, a.bounds, a.classic = false, nil, a.classic[:0]
	a.hasExp = false
	a.exp = exponential{Positive: a.exp.Positive[:0], Negative: a.exp.Negative[:0]}
}

func (a *acc) add(e *entry, bounds []float64) {
	switch {
	case e.exp != nil && e.exp.sparse:
		a.addSparse(e.exp, e.buckets)
	case e.exp != nil:
		a.addExp(e.exponential())
	case e.buckets != nil:
		a.addClassic(e.buckets, bounds)
	}
}

// addClassic adds counts on bounds. Counts on another layout cannot be
// added bucket by bucket: both are re-read on the bounds the two layouts
// share, which loses nothing since each shared bucket is a union of whole
// buckets of either; with no bound shared there is no percentile.
func (a *acc) addClassic(counts []uint64, bounds []float64) {
	switch {
	case !a.hasClassic:
		a.hasClassic, a.bounds = true, bounds
		a.classic = append(a.classic[:0], counts...)
		return
	case !sameBounds(a.bounds, bounds):
		common := shared(a.bounds, bounds)
		if len(common) != len(a.bounds) {
			regrouped := make([]uint64, len(common)+1)
			regroup(regrouped, a.bounds, a.classic, common)
			a.classic = regrouped
		}
		a.bounds = common
		regroup(a.classic, bounds, counts, common)
		return
	}
	for i, v := range counts {
		a.classic[i] += v
	}
}

// sameBounds is slices.Equal, at once for series sharing one layout.
func sameBounds(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

// shared returns the bounds two sorted layouts have in common.
func shared(a, b []float64) []float64 {
	out := []float64{}
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// regroup adds counts on bounds into dst on common, a subset of bounds:
// each bucket goes to the first common bucket reaching its upper bound.
func regroup(dst []uint64, bounds []float64, counts []uint64, common []float64) {
	t := 0
	for i, v := range counts {
		if i < len(bounds) {
			for t < len(common) && common[t] < bounds[i] {
				t++
			}
		} else {
			t = len(common)
		}
		dst[t] += v
	}
}

// addExp adds x at the coarser of the two scales, or coarser still when
// the sum would span more than maxMergedBuckets.
func (a *acc) addExp(x exponential) {
	h := &a.exp
	if !a.hasExp {
		a.hasExp = true
		*h = exponential{Scale: x.Scale, ZeroThreshold: x.ZeroThreshold, ZeroCount: x.ZeroCount,
			PositiveOffset: x.PositiveOffset, Positive: append(h.Positive[:0], x.Positive...),
			NegativeOffset: x.NegativeOffset, Negative: append(h.Negative[:0], x.Negative...)}
		return
	}
	scale := a.coarsen(x.Scale, x.PositiveOffset, len(x.Positive), x.NegativeOffset, len(x.Negative))
	shift := uint(x.Scale - scale)
	h.PositiveOffset, h.Positive = addInto(h.PositiveOffset, h.Positive, x.PositiveOffset, x.Positive, shift)
	h.NegativeOffset, h.Negative = addInto(h.NegativeOffset, h.Negative, x.NegativeOffset, x.Negative, shift)
	h.ZeroCount += x.ZeroCount
	h.ZeroThreshold = max(h.ZeroThreshold, x.ZeroThreshold)
}

// coarsen lowers the sum's scale to what adding buckets of the given
// shape needs, and returns that scale.
func (a *acc) coarsen(scale, posOff int32, posLen int, negOff int32, negLen int) int32 {
	h := &a.exp
	if scale >= h.Scale {
		// The common case, at a few nanoseconds: buckets at the sum's
		// scale or finer that fit beside the sum's own.
		shift := uint(scale - h.Scale)
		if fits(h.PositiveOffset, len(h.Positive), posOff, posLen, shift) && fits(h.NegativeOffset, len(h.Negative), negOff, negLen, shift) {
			return h.Scale
		}
	}
	to := mergedScale(*h, exponential{Scale: scale, PositiveOffset: posOff, NegativeOffset: negOff}, posLen, negLen)
	if to < h.Scale {
		shift := uint(h.Scale - to)
		h.PositiveOffset, h.Positive = mergeInPlace(h.PositiveOffset, h.Positive, shift)
		h.NegativeOffset, h.Negative = mergeInPlace(h.NegativeOffset, h.Negative, shift)
		h.Scale = to
	}
	return to
}

// fits says whether n buckets from off, shift steps finer, added to the
// buckets from hOff at the coarser scale span at most maxMergedBuckets.
func fits(hOff int32, hLen int, off int32, n int, shift uint) bool {
	if n == 0 {
		return true
	}
	lo, hi := int64(off)>>shift, (int64(off)+int64(n)-1)>>shift
	if hLen > 0 {
		lo, hi = min(lo, int64(hOff)), max(hi, int64(hOff)+int64(hLen)-1)
	}
	return hi-lo+1 <= maxMergedBuckets
}

// addSparse adds a sparse delta (see entry).
func (a *acc) addSparse(x *expDelta, words []uint64) {
	pos, neg := words[:x.positives], words[x.positives:]
	span := func(w []uint64) int {
		if len(w) == 0 {
			return 0
		}
		return int(w[len(w)-1]>>countBits) + 1
	}
	if !a.hasExp {
		a.hasExp = true
		a.exp = exponential{Scale: int32(x.scale), Positive: a.exp.Positive[:0], Negative: a.exp.Negative[:0]}
	}
	h := &a.exp
	scale := a.coarsen(int32(x.scale), x.posOffset, span(pos), x.negOffset, span(neg))
	shift := uint(int32(x.scale) - scale)
	h.PositiveOffset, h.Positive = addWords(h.PositiveOffset, h.Positive, x.posOffset, pos, span(pos), shift)
	h.NegativeOffset, h.Negative = addWords(h.NegativeOffset, h.Negative, x.negOffset, neg, span(neg), shift)
	h.ZeroCount += x.zeroCount
	h.ZeroThreshold = max(h.ZeroThreshold, x.zeroThreshold)
}

func (a *acc) histogram() distribution {
	switch {
	case a.hasClassic:
		return classic{Bounds: a.bounds, Counts: a.classic}
	case a.hasExp:
		return a.exp
	}
	return nil
}

func quantile(h distribution, q float64) Seconds {
	if h == nil {
		return Seconds(math.NaN())
	}
	return Seconds(h.Quantile(q))
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

type endpointAcc struct {
	requests, errors uint64
	h                acc
}

// Summary computes the document from the ring. Its cost is linear in the
// entries the ring holds, bounded by series × slots.
func (d *Dashboard) Summary() Summary {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.summaryLocked()
}

// summaryJSON returns the encoded summary, computed once per snapshot:
// however many pages poll, the ring is walked once per interval.
func (d *Dashboard) summaryJSON() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cached != nil && d.cachedAt.Equal(d.last) {
		return d.cached, nil
	}
	body, err := json.Marshal(d.summaryLocked())
	if err != nil {
		return nil, err
	}
	d.cached, d.cachedAt = body, d.last
	return body, nil
}

func (d *Dashboard) summaryLocked() Summary {
	s := Summary{
		GeneratedAt:     d.last.UTC(),
		IntervalSeconds: d.cfg.interval.Seconds(),
		WindowSeconds:   d.cfg.window.Seconds(),
		Histogram:       d.kind,
		Timeline:        make([]Point, 0, len(d.ring)),
		Statuses:        []Status{},
		Endpoints:       []Endpoint{},
	}
	var covered time.Duration
	var total, h acc
	var sum float64
	statuses := map[string]uint64{}
	ends := make([]endpointAcc, len(d.ends))
	for si := range d.ring {
		sl := &d.ring[si]
		covered += sl.dur
		var n, errs uint64
		h.reset()
		for ei := range sl.entries {
			e := &sl.entries[ei]
			info := &d.series[e.id]
			n += e.count
			sum += e.sum
			ea := &ends[info.endpoint]
			ea.requests += e.count
			if info.serverError {
				errs += e.count
				ea.errors += e.count
			}
			if info.status != "" {
				statuses[info.status] += e.count
			}
			h.add(e, info.bounds)
			total.add(e, info.bounds)
			ea.h.add(e, info.bounds)
		}
		hist := h.histogram()
		s.Timeline = append(s.Timeline, Point{Time: sl.at.UTC(), RequestsPerSecond: perSecond(n, sl.dur), ErrorsPerSecond: perSecond(errs, sl.dur),
			P50: quantile(hist, 0.5), P95: quantile(hist, 0.95), P99: quantile(hist, 0.99)})
		s.Totals.Requests += n
		s.Totals.Errors += errs
	}
	s.CoveredSeconds = covered.Seconds()
	t := &s.Totals
	t.RequestsPerSecond = perSecond(t.Requests, covered)
	t.ErrorsPerSecond = perSecond(t.Errors, covered)
	t.ErrorRatio = ratio(t.Errors, t.Requests)
	hist := total.histogram()
	t.P50, t.P95, t.P99 = quantile(hist, 0.5), quantile(hist, 0.95), quantile(hist, 0.99)
	t.MeanLatency = Seconds(math.NaN())
	if t.Requests > 0 {
		t.MeanLatency = Seconds(sum / float64(t.Requests))
	}
	for code, n := range statuses {
		s.Statuses = append(s.Statuses, Status{Status: code, Requests: n})
	}
	slices.SortFunc(s.Statuses, func(a, b Status) int {
		return cmp.Or(cmp.Compare(len(a.Status), len(b.Status)), cmp.Compare(a.Status, b.Status))
	})
	for key, id := range d.ends {
		ea := &ends[id]
		if ea.requests == 0 {
			continue
		}
		s.Endpoints = append(s.Endpoints, Endpoint{Method: key[0], Handler: key[1], Requests: ea.requests,
			RequestsPerSecond: perSecond(ea.requests, covered), Errors: ea.errors, ErrorRatio: ratio(ea.errors, ea.requests),
			P99: quantile(ea.h.histogram(), 0.99)})
	}
	slices.SortFunc(s.Endpoints, func(a, b Endpoint) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Handler, b.Handler), cmp.Compare(a.Method, b.Method))
	})
	return s
}
