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

// overflowObserve reports the requests counter's overflowed requests under
// the attribute the SDK itself puts on its overflow series.
var overflowObserve = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(views.KeyOverflow.Bool(true)))}

// series is one label set: its request count, read by the observable
// counter at collection, and the prebuilt options for both instruments, so
// recording a request allocates nothing once its series exists.
type series struct {
	count   *atomic.Int64
	observe []metric.ObserveOption
	rec     []metric.RecordOption
}

func newSeries(k seriesKey, count *atomic.Int64) *series {
	m := attribute.String(string(views.KeyMethod), methods[k.method])
	h := attribute.String(string(views.KeyHandler), k.handler)
	counter := attribute.NewSet(m, h, views.KeyStatus.String(strconv.Itoa(int(k.status))))
	hist := attribute.NewSet(m, h)
	return &series{
		count:   count,
		observe: []metric.ObserveOption{metric.WithAttributeSet(counter)},
		rec:     []metric.RecordOption{metric.WithAttributeSet(hist)},
	}
}

// seriesCache maps label sets to their series. Reads are lock-free on an
// immutable map; a new label set copies the map under a mutex, which
// happens at most limit-1 times per process.
//
// It holds as many label sets as the SDK keeps series for one instrument
// (limit-1, the last slot being the overflow series), which bounds its
// memory under hostile traffic. Requests for label sets beyond that share
// one overflow count and record their duration with uncached attributes,
// which the SDK folds into the histogram's own overflow series.
type seriesCache struct {
	m          atomic.Pointer[map[seriesKey]*series]
	mu         sync.Mutex
	capacity   int
	overflow   atomic.Int64
	onOverflow func()
}

func newSeriesCache(limit int, onOverflow func()) *seriesCache {
	c := &seriesCache{capacity: limit - 1, onOverflow: onOverflow}
	c.m.Store(&map[seriesKey]*series{})
	return c
}

func (c *seriesCache) get(k seriesKey) *series {
	m := *c.m.Load()
	if s, ok := m[k]; ok {
		return s
	}
	if len(m) >= c.capacity { // full: no lock, nothing cached
		return c.overflowed(k)
	}
	return c.add(k)
}

// overflowed returns an uncached series that counts into the shared
// overflow count.
func (c *seriesCache) overflowed(k seriesKey) *series {
	c.onOverflow()
	return newSeries(k, &c.overflow)
}

func (c *seriesCache) add(k seriesKey) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if s, ok := old[k]; ok {
		return s
	}
	if len(old) >= c.capacity {
		return c.overflowed(k)
	}
	k.handler = strings.Clone(k.handler)
	next := make(map[seriesKey]*series, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	s := newSeries(k, new(atomic.Int64))
	next[k] = s
	c.m.Store(&next)
	return s
}

// observe reports every series' count; collection calls it, not requests.
func (c *seriesCache) observe(obs metric.Int64Observer) {
	for _, s := range *c.m.Load() {
		if n := s.count.Load(); n > 0 {
			obs.Observe(n, s.observe...)
		}
	}
	if n := c.overflow.Load(); n > 0 {
		obs.Observe(n, overflowObserve...)
	}
}
