package promexport

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A compressed scrape reuses a pooled encoder: building one is most of
// what a scrape would allocate beyond the plain one (a zstd encoder's
// history alone is twice its window), so the bytes a compressed scrape
// allocates beyond a plain one stay well below a new encoder's.
func TestCompressedScrapeReusesItsEncoder(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"method", "handler", "status"})
	reg.MustRegister(c)
	for i := range 500 {
		c.WithLabelValues("GET", fmt.Sprintf("/api/h%d", i), "200").Inc()
	}
	e := &Exporter{closed: &atomic.Bool{}, handler: newHandler(reg, slog.New(slog.DiscardHandler))}
	w := &discardWriter{h: http.Header{}}
	scrapeBytes := func(coding string) float64 {
		r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
		if coding != "" {
			r.Header.Set("Accept-Encoding", coding)
		}
		const n = 20
		e.ServeHTTP(w, r) // warm the pool
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			clear(w.h)
			e.ServeHTTP(w, r)
		}
		runtime.ReadMemStats(&after)
		if got := w.h.Get("Content-Encoding"); got != coding {
			t.Fatalf("Content-Encoding %q; want %q", got, coding)
		}
		return float64(after.TotalAlloc-before.TotalAlloc) / n
	}
	newEncoderBytes := func(coding contentCoding) float64 {
		return allocBytes(func() {
			cw := encoders[coding].New().(*compressResponseWriter)
			cw.zw.Reset(io.Discard)
			_, _ = cw.zw.Write([]byte("x"))
			_ = cw.zw.Close()
		})
	}
	plain := scrapeBytes("")
	for _, tc := range []struct {
		name   string
		coding contentCoding
	}{{"gzip", codingGzip}, {"zstd", codingZstd}} {
		t.Run(tc.name, func(t *testing.T) {
			extra, fresh := scrapeBytes(tc.name)-plain, newEncoderBytes(tc.coding)
			t.Logf("a %s scrape allocates %.0f bytes beyond a plain one; a new encoder %.0f", tc.name, extra, fresh)
			if extra > fresh/4 {
				t.Errorf("a %s scrape allocates %.0f bytes beyond a plain one, a new encoder %.0f: the encoder is not reused", tc.name, extra, fresh)
			}
		})
	}
}

// allocBytes is what f allocates, in bytes.
func allocBytes(f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc - before.TotalAlloc)
}

// discardWriter is a ResponseWriter that keeps only the header, so the
// measure holds the scrape's own allocations, not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
