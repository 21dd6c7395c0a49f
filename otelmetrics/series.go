package otelmetrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/metricsbridge/metricsbridge/views"
)

// methods are the label values for the standard methods; index 0 is what
// every other method becomes, so bogus methods cannot add series.
var methods = [...]string{"_OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func methodIndex(m string) uint8 {
	switch m { // the common, already upper-case spellings first
	case "GET":
		return 1
	case "POST":
		return 3
	}
	for i := 1; i < len(methods); i++ {
		if len(m) == len(methods[i]) && equalFoldASCII(m, methods[i]) {
			return uint8(i)
		}
	}
	return 0
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}

type seriesKey struct {
	method  uint8
	status  uint16
	handler string
}

// series holds the prebuilt options for one label set, so recording a
// request allocates nothing once its series exists.
type series struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newSeries(k seriesKey) *series {
	m := attribute.String(string(views.KeyMethod), methods[k.method])
	h := attribute.String(string(views.KeyHandler), k.handler)
	counter := attribute.NewSet(m, h, views.KeyStatus.String(strconv.Itoa(int(k.status))))
	hist := attribute.NewSet(m, h)
	return &series{
		add: []metric.AddOption{metric.WithAttributeSet(counter)},
		rec: []metric.RecordOption{metric.WithAttributeSet(hist)},
	}
}

// seriesCache maps label sets to their prebuilt options. Reads are lock-free
// on an immutable map; a new label set copies the map under a mutex, which
// happens at most limit-1 times per process.
//
// The cache holds as many label sets as the SDK keeps series for
// http_requests_total (limit-1, the last slot being the SDK's overflow
// series), so it both bounds its own memory and knows exactly which
// requests the SDK records into the overflow series.
type seriesCache struct {
	m          atomic.Pointer[map[seriesKey]*series]
	mu         sync.Mutex
	capacity   int
	onOverflow func(first bool)
	overflowed atomic.Bool
}

func newSeriesCache(limit int, onOverflow func(first bool)) *seriesCache {
	c := &seriesCache{capacity: limit - 1, onOverflow: onOverflow}
	c.m.Store(&map[seriesKey]*series{})
	return c
}

func (c *seriesCache) get(k seriesKey) *series {
	if s, ok := (*c.m.Load())[k]; ok {
		return s
	}
	return c.add(k)
}

func (c *seriesCache) add(k seriesKey) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if s, ok := old[k]; ok {
		return s
	}
	k.handler = strings.Clone(k.handler)
	if len(old) >= c.capacity {
		// Not cached: the SDK folds it into the overflow series anyway,
		// and caching would let hostile traffic grow this map.
		c.onOverflow(!c.overflowed.Swap(true))
		return newSeries(k)
	}
	next := make(map[seriesKey]*series, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	s := newSeries(k)
	next[k] = s
	c.m.Store(&next)
	return s
}
