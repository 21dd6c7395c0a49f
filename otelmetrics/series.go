package otelmetrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

func methodIndex(m string) uint8 { return uint8(mbsemconv.MethodIndex(m)) }

// seriesKey is what distinguishes one attribute set of
// http.server.request.duration from another. route is the route as it was
// found: a ServeMux pattern ("GET /users/{id}") when pattern is set, which
// the series turns into its template once rather than on every request,
// or the template a router reported; "" when no route matched.
type seriesKey struct {
	method  uint8
	status  uint16
	https   bool
	pattern bool
	route   string
}

// series is one attribute set, prebuilt so that recording a request
// allocates nothing once its series exists, and whether its route is
// excluded from the metrics.
type series struct {
	rec      []metric.RecordOption
	excluded bool
}

var (
	schemeHTTP  = mbsemconv.KeyURLScheme.String("http")
	schemeHTTPS = mbsemconv.KeyURLScheme.String("https")
)

func newSeries(k seriesKey, excluded *excluder) *series {
	route := k.route
	if k.pattern {
		route = mbsemconv.Route(route)
	}
	kvs := make([]attribute.KeyValue, 0, 5)
	kvs = append(kvs, mbsemconv.KeyHTTPMethod.String(mbsemconv.Methods[k.method]), mbsemconv.KeyHTTPStatus.Int(int(k.status)))
	if k.https {
		kvs = append(kvs, schemeHTTPS)
	} else {
		kvs = append(kvs, schemeHTTP)
	}
	if route != "" {
		kvs = append(kvs, mbsemconv.KeyHTTPRoute.String(route))
	}
	// The conventions set error.type on server errors only; a 4xx is the
	// client's, and the status code already says which.
	if k.status >= 500 {
		kvs = append(kvs, mbsemconv.KeyErrorType.String(strconv.Itoa(int(k.status))))
	}
	return &series{
		rec:      []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))},
		excluded: excluded != nil && route != "" && excluded.MatchString(route),
	}
}

// seriesCache maps keys to their series.
//
// Hits read an immutable view through an atomic pointer: no lock, no
// allocation. The view is keyed by the route string alone, which the
// runtime's string-keyed maps look up three times faster than a key of
// five fields, and then by the other fields packed in one integer. New
// keys go to a mutable map of all keys under a mutex, from which a new
// view is built once the view has missed as often as there are keys, so
// each key costs O(1) amortised however many there are (copying the map
// on every new key made filling 60,000 series take minutes).
//
// It holds at most as many keys as the SDK keeps attribute sets for one
// instrument, which bounds its memory under hostile traffic; beyond that
// each request builds its attribute set anew, and the SDK folds it into
// its overflow series.
type seriesCache struct {
	read     atomic.Pointer[map[string]*routeSeries]
	mu       sync.Mutex
	readLen  int                   // keys in *read
	dirty    map[seriesKey]*series // nil, or every key of *read and more
	misses   int
	capacity int
	excluded *excluder
}

// routeSeries is one route's series in the view: a few scanned in a
// slice, more than that in a map.
type routeSeries struct {
	few  []metaSeries
	many map[uint32]*series
}

type metaSeries struct {
	meta uint32
	s    *series
}

// routeFew is how many series of one route are scanned rather than
// looked up.
const routeFew = 8

// meta packs the fields of k other than the route.
func (k seriesKey) meta() uint32 {
	m := uint32(k.method) | uint32(k.status)<<8
	if k.https {
		m |= 1 << 24
	}
	if k.pattern {
		m |= 1 << 25
	}
	return m
}

func (rs *routeSeries) find(meta uint32) *series {
	if rs.many != nil {
		return rs.many[meta]
	}
	for _, e := range rs.few {
		if e.meta == meta {
			return e.s
		}
	}
	return nil
}

func newSeriesCache(capacity int, excluded *excluder) *seriesCache {
	c := &seriesCache{capacity: capacity, excluded: excluded}
	c.read.Store(&map[string]*routeSeries{})
	return c
}

func (c *seriesCache) get(k seriesKey) *series {
	if rs, ok := (*c.read.Load())[k.route]; ok {
		if s := rs.find(k.meta()); s != nil {
			return s
		}
	}
	return c.slow(k)
}

func (c *seriesCache) slow(k seriesKey) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := *c.read.Load()
	if rs, ok := read[k.route]; ok {
		if s := rs.find(k.meta()); s != nil {
			return s
		}
	}
	s, ok := c.dirty[k]
	if !ok {
		size := c.readLen
		if c.dirty != nil {
			size = len(c.dirty)
		}
		if size >= c.capacity {
			return newSeries(k, c.excluded)
		}
		if c.dirty == nil {
			c.dirty = make(map[seriesKey]*series, 2*c.readLen+1)
			for route, rs := range read {
				for meta, s := range rs.all() {
					c.dirty[unpack(route, meta)] = s
				}
			}
		}
		k.route = strings.Clone(k.route) // it may point into a request
		s = newSeries(k, c.excluded)
		c.dirty[k] = s
	}
	c.misses++
	if c.misses >= len(c.dirty) {
		c.read.Store(view(c.dirty))
		c.readLen = len(c.dirty)
		c.dirty, c.misses = nil, 0
	}
	return s
}

// view builds the read view of all.
func view(all map[seriesKey]*series) *map[string]*routeSeries {
	v := make(map[string]*routeSeries, len(all))
	for k, s := range all {
		rs := v[k.route]
		if rs == nil {
			rs = &routeSeries{}
			v[k.route] = rs
		}
		if rs.many == nil && len(rs.few) < routeFew {
			rs.few = append(rs.few, metaSeries{k.meta(), s})
			continue
		}
		if rs.many == nil {
			rs.many = make(map[uint32]*series, 2*routeFew)
			for _, e := range rs.few {
				rs.many[e.meta] = e.s
			}
			rs.few = nil
		}
		rs.many[k.meta()] = s
	}
	return &v
}

// all yields the route's series by their packed fields.
func (rs *routeSeries) all() func(yield func(uint32, *series) bool) {
	return func(yield func(uint32, *series) bool) {
		for _, e := range rs.few {
			if !yield(e.meta, e.s) {
				return
			}
		}
		for meta, s := range rs.many {
			if !yield(meta, s) {
				return
			}
		}
	}
}

// unpack is meta's inverse.
func unpack(route string, meta uint32) seriesKey {
	return seriesKey{
		method:  uint8(meta),
		status:  uint16(meta >> 8),
		https:   meta&(1<<24) != 0,
		pattern: meta&(1<<25) != 0,
		route:   route,
	}
}

// len is the number of keys cached.
func (c *seriesCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty != nil {
		return len(c.dirty)
	}
	return c.readLen
}
