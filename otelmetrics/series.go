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
// Hits read an immutable map through an atomic pointer: no lock, no
// allocation. New keys go to a mutable superset of it under a mutex, which
// replaces the immutable map once it has missed as often as it holds keys,
// so each key costs O(1) amortised however many there are (copying the
// map on every new key made filling 60,000 series take minutes).
//
// It holds at most as many keys as the SDK keeps attribute sets for one
// instrument, which bounds its memory under hostile traffic; beyond that
// each request builds its attribute set anew, and the SDK folds it into
// its overflow series.
type seriesCache struct {
	read     atomic.Pointer[map[seriesKey]*series]
	mu       sync.Mutex
	dirty    map[seriesKey]*series // nil, or a superset of *read
	misses   int
	capacity int
	excluded *excluder
}

func newSeriesCache(capacity int, excluded *excluder) *seriesCache {
	c := &seriesCache{capacity: capacity, excluded: excluded}
	c.read.Store(&map[seriesKey]*series{})
	return c
}

func (c *seriesCache) get(k seriesKey) *series {
	if s, ok := (*c.read.Load())[k]; ok {
		return s
	}
	return c.slow(k)
}

func (c *seriesCache) slow(k seriesKey) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := *c.read.Load()
	if s, ok := read[k]; ok {
		return s
	}
	s, ok := c.dirty[k]
	if !ok {
		size := len(read)
		if c.dirty != nil {
			size = len(c.dirty)
		}
		if size >= c.capacity {
			return newSeries(k, c.excluded)
		}
		if c.dirty == nil {
			c.dirty = make(map[seriesKey]*series, 2*len(read)+1)
			for kk, v := range read {
				c.dirty[kk] = v
			}
		}
		k.route = strings.Clone(k.route) // it may point into a request
		s = newSeries(k, c.excluded)
		c.dirty[k] = s
	}
	c.misses++
	if c.misses >= len(c.dirty) {
		d := c.dirty
		c.read.Store(&d)
		c.dirty, c.misses = nil, 0
	}
	return s
}

// len is the number of keys cached.
func (c *seriesCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty != nil {
		return len(c.dirty)
	}
	return len(*c.read.Load())
}
