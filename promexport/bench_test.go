package promexport_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	// client_golang offers zstd only with this package linked in.
	_ "github.com/prometheus/client_golang/prometheus/promhttp/zstd"

	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

const (
	benchHandlers = 1000
)

var (
	benchMethods  = []string{"GET", "POST"}
	benchStatuses = []int{200, 404, 500}
)

// BenchmarkScrape serves 6,000 http_requests_total label sets (1,000
// handlers × 2 methods × 3 statuses) and their 2,000 histograms, through
// metricsbridge and through a client_golang registry holding the same
// series, plain, gzip'd and zstd'd.
func BenchmarkScrape(b *testing.B) {
	newProvider := func(exemplars bool) *otelmetrics.Provider {
		cfg := otelmetrics.DefaultConfig()
		cfg.Enabled = true
		cfg.CardinalityLimit = 10_000
		cfg.Exemplars = exemplars
		p, err := otelmetrics.NewProvider(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Shutdown(b.Context()) })
		return p
	}
	p, noExemplars := newProvider(true), newProvider(false)
	mux := http.NewServeMux()
	for i := range benchHandlers {
		mux.HandleFunc(fmt.Sprintf("/api/h%d/{code}", i), func(w http.ResponseWriter, r *http.Request) {
			code, _ := strconv.Atoi(r.PathValue("code"))
			w.WriteHeader(code)
		})
	}
	h, h2 := p.Middleware(mux), noExemplars.Middleware(mux)

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"method", "handler", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "h", Buckets: buckets.Default(),
	}, []string{"method", "handler"})
	reg.MustRegister(requests, duration)

	for i := range benchHandlers {
		for _, m := range benchMethods {
			for _, s := range benchStatuses {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, fmt.Sprintf("/api/h%d/%d", i, s), nil))
				h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, fmt.Sprintf("/api/h%d/%d", i, s), nil))
				route := fmt.Sprintf("/api/h%d/{code}", i)
				requests.WithLabelValues(m, route, strconv.Itoa(s)).Inc()
				duration.WithLabelValues(m, route).Observe(0.001)
			}
		}
	}
	clientGolang := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics:   true,
		OfferedCompressions: []promhttp.Compression{promhttp.Identity, promhttp.Gzip, promhttp.Zstd},
	})

	for _, impl := range []struct {
		name string
		h    http.Handler
	}{{"bridge", p.MetricsHandler()}, {"client_golang", clientGolang}} {
		for _, enc := range []string{"plain", "gzip", "zstd"} {
			b.Run(impl.name+"/"+enc, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
				if enc != "plain" {
					r.Header.Set("Accept-Encoding", enc)
				}
				var size int64
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					impl.h.ServeHTTP(rec, r)
					size, _ = io.Copy(io.Discard, rec.Body)
				}
				b.ReportMetric(float64(size), "bytes/scrape")
			})
		}
		if impl.name == "client_golang" {
			continue
		}
		// Scrapers that arrive together: Prometheus HA pairs, a federation
		// and a debugging curl. The bridge collects once for all of them.
		b.Run(impl.name+"/8-concurrent", func(b *testing.B) {
			const scrapers = 8
			r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range scrapers {
					wg.Go(func() {
						<-start
						rec := httptest.NewRecorder()
						impl.h.ServeHTTP(rec, r)
						if rec.Code != http.StatusOK {
							b.Errorf("scrape: %d", rec.Code)
						}
					})
				}
				close(start)
				wg.Wait()
			}
		})
	}
	// zstd against gzip on the bridge: the process CPU time and the body
	// size of a scrape with each, and their ratios, timed in alternation
	// with a plain scrape for the reasons given below.
	b.Run("zstd-vs-gzip", func(b *testing.B) {
		h := p.MetricsHandler()
		codings := []string{"zstd", "gzip", ""} // the plain scrape shows what compressing adds
		reqs := make([]*http.Request, len(codings))
		cpu := make([]time.Duration, len(codings))
		size := make([]int, len(codings))
		for i, enc := range codings {
			reqs[i] = httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
			if enc != "" {
				reqs[i].Header.Set("Accept-Encoding", enc)
			}
		}
		turn := 0
		for b.Loop() {
			for j := range reqs {
				i := (turn + j) % len(reqs)
				rec := httptest.NewRecorder()
				startCPU := processCPU()
				h.ServeHTTP(rec, reqs[i])
				cpu[i] += processCPU() - startCPU
				if got := rec.Header().Get("Content-Encoding"); got != codings[i] {
					b.Fatalf("Content-Encoding %q for Accept-Encoding %q", got, codings[i])
				}
				size[i] = rec.Body.Len()
			}
			turn++
		}
		if cpu[1] > 0 {
			b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "cpu:zstd/gzip")
		}
		for i, name := range []string{"zstd", "gzip", "plain"} {
			b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(b.N), "cpu-ns/"+name+"-scrape")
			b.ReportMetric(float64(size[i]), "bytes/"+name+"-scrape")
		}
		b.ReportMetric(float64(size[0])/float64(size[1]), "bytes:zstd/gzip")
	})
	// The comparison as one number, the three timed in alternation: the
	// default (exemplars on, no request traced) and METRICS_EXEMPLARS=false.
	// Beside the wall time, the process's CPU time: on a machine shared
	// with other work it is not inflated by the time the process waits for
	// a core, and it includes the garbage collector's work on other threads,
	// which a scrape that allocates more causes. The order turns on every
	// iteration, so the collection one scrape's garbage causes falls as
	// often into each of the others' time. The goal is
	// cpu:bridge/client_golang at most 1.5.
	b.Run("ratio", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
		var wall, cpu [3]time.Duration
		scrapers := []http.Handler{p.MetricsHandler(), noExemplars.MetricsHandler(), clientGolang}
		turn := 0
		for b.Loop() {
			for j := range scrapers {
				i := (turn + j) % len(scrapers)
				start, startCPU := time.Now(), processCPU()
				scrapers[i].ServeHTTP(httptest.NewRecorder(), r)
				wall[i] += time.Since(start)
				cpu[i] += processCPU() - startCPU
			}
			turn++
		}
		b.ReportMetric(float64(wall[0])/float64(wall[2]), "bridge/client_golang")
		b.ReportMetric(float64(wall[1])/float64(wall[2]), "exemplars-off/client_golang")
		if cpu[2] > 0 {
			b.ReportMetric(float64(cpu[0])/float64(cpu[2]), "cpu:bridge/client_golang")
			b.ReportMetric(float64(cpu[1])/float64(cpu[2]), "cpu:exemplars-off/client_golang")
		}
	})
}

// BenchmarkMemoryPerSeries reports the heap held per route, one
// http_requests_total series and one http_request_duration_seconds
// histogram each, by the bridge and by a client_golang registry holding the
// same series, after one request per route and one scrape (so what a scrape
// caches counts too). Run with -benchtime 1x: each iteration builds n
// routes from nothing.
func BenchmarkMemoryPerSeries(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		routes := make([]string, n)
		for i := range routes {
			routes[i] = "/r" + strconv.Itoa(i) + "/{id}"
		}
		for _, impl := range []struct {
			name string
			fill func() (scrape http.Handler, keep func())
		}{
			{"bridge", func() (http.Handler, func()) {
				cfg := otelmetrics.DefaultConfig()
				cfg.Enabled = true
				cfg.CardinalityLimit = n + 10
				p, err := otelmetrics.NewProvider(cfg)
				if err != nil {
					b.Fatal(err)
				}
				var i int
				// The handler sets the pattern as a mux would, without a mux
				// of n routes in the measurement.
				h := p.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { r.Pattern = routes[i] }))
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				w := httptest.NewRecorder()
				for i = range n {
					h.ServeHTTP(w, r)
				}
				return p.MetricsHandler(), func() { _ = p.Shutdown(b.Context()) }
			}},
			{"client_golang", func() (http.Handler, func()) {
				reg := prometheus.NewRegistry()
				requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"method", "handler", "status"})
				duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
					Name: "http_request_duration_seconds", Help: "h", Buckets: buckets.Default(),
				}, []string{"method", "handler"})
				reg.MustRegister(requests, duration)
				for _, route := range routes {
					requests.WithLabelValues(http.MethodGet, route, "200").Inc()
					duration.WithLabelValues(http.MethodGet, route).Observe(0.001)
				}
				return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), func() { runtime.KeepAlive(reg) }
			}},
		} {
			b.Run(fmt.Sprintf("%s/%d", impl.name, n), func(b *testing.B) {
				var held uint64
				for b.Loop() {
					before := heapAlloc()
					h, done := impl.fill()
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
					if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), routes[n-1]) {
						b.Fatalf("scrape: %d without the last route", rec.Code)
					}
					rec = nil
					after := heapAlloc()
					done()
					held += after - before
				}
				b.ReportMetric(float64(held)/float64(b.N*n), "bytes/series")
			})
		}
	}
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
