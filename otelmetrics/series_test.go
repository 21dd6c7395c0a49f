package otelmetrics

import (
	"strconv"
	"testing"
)

// Every key gets one series of its own, the same one each time, whether
// it is found in the view (as one of a route's few series or its many) or
// still only among the keys added since.
func TestSeriesCacheKeys(t *testing.T) {
	for _, tc := range []struct {
		name          string
		routes, metas int
	}{
		{"one key", 1, 1},
		{"a route's few series", 3, routeFew},
		{"a route's many series", 2, 5 * routeFew},
		{"many routes", 300, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSeriesCache(100_000, nil)
			var keys []seriesKey
			for r := range tc.routes {
				for m := range tc.metas {
					keys = append(keys, seriesKey{
						method: uint8(m % 10), status: uint16(200 + m), https: m%3 == 0, pattern: m%2 == 0,
						route: "/r" + strconv.Itoa(r),
					})
				}
			}
			first := map[seriesKey]*series{}
			for round := range 4 {
				for _, k := range keys {
					s := c.get(k)
					if prev, ok := first[k]; ok && prev != s {
						t.Fatalf("round %d: %+v got another series", round, k)
					}
					first[k] = s
				}
			}
			seen := map[*series]bool{}
			for _, s := range first {
				if seen[s] {
					t.Fatal("two keys share a series")
				}
				seen[s] = true
			}
			if c.len() != len(keys) {
				t.Errorf("%d keys cached, want %d", c.len(), len(keys))
			}
			for _, k := range keys {
				if got := unpack(k.route, k.meta()); got != k {
					t.Errorf("unpack(meta(%+v)) = %+v", k, got)
				}
			}
		})
	}
}
