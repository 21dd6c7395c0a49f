package otelmetrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"

	dto "github.com/prometheus/client_model/go"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// attackPath returns the i-th of the attack's raw paths, all distinct: IDs
// in a route template, files under a prefix route, unmatched paths, paths
// the mux redirects and percent-encoded ones.
func attackPath(i int) string {
	switch i % 5 {
	case 0:
		return "/servers/" + strconv.Itoa(i) + "/sse"
	case 1:
		return "/static/" + strconv.Itoa(i) + "/site.css"
	case 2:
		return "/users/" + strconv.Itoa(i) + "/profile"
	case 3:
		return "/a/" + strconv.Itoa(i) + "/../../health" // redirected to a clean path
	default:
		return "/%7E" + strconv.FormatInt(int64(i), 36) + "/%2F%00"
	}
}

// attackMethod makes every fourth request use one of bogusMethods
// non-standard methods, each used as often as the others, and the rest a
// standard method in assorted case (which, but for the upper case, is
// not a standard method either).
func attackMethod(i, bogusMethods int) string {
	if i%4 == 0 {
		return "BOGUS-" + strconv.Itoa((i/4)%bogusMethods)
	}
	return [...]string{"GET", "get", "Post", "HEAD", "options", "DELETE", "PATCH"}[i%7]
}

// Hostile traffic cannot grow the scrape: 100,000 requests with distinct
// raw paths, a quarter of them with 1,000 different made-up methods, give a
// few dozen series whose labels are route templates or "none" and standard
// methods or "_OTHER". With a low series limit the excess goes to the one
// overflow series, counted by the self-metric and logged once; that is also
// where an application with thousands of real route templates ends up, so
// the last case spreads the same traffic over 2,000 of them. Either way
// the counter's total is exactly the number of requests, and the heap after
// a GC holds no trace of the paths.
func TestCardinalityAttack(t *testing.T) {
	const (
		requests     = 100_000
		bogusMethods = 1_000
		workers      = 4
		// Generous: the growth measured is under 100 KB (the series and
		// what the SDK keeps for them), about 350 KB with 2,000 route
		// templates whether 20,000 or 400,000 requests are sent, while
		// keeping as little as 64 bytes per request would add 6 MB.
		maxHeapGrowth = 4 << 20
		// These paths reach 25 label sets of the 10 methods × 9 handler
		// values × a few statuses that exist; one per path would be 100,000.
		maxSeries = 100
	)
	testHandlers := []string{"/tools/invoke", "/servers/{id}/sse", "/health", "/unavailable", "/early-hints", "/static/", "/hosted", "/panic", HandlerNone}

	for _, tc := range []struct {
		name     string
		limit    int
		routes   int // route templates served instead of testMux; 0: testMux
		overflow bool
		native   bool // METRICS_HISTOGRAMS=native
	}{
		{"default series limit", defaultCardinalityLimit, 0, false, false},
		{"series limit reached", 8, 0, true, false},
		// Exponential points merge over status like classic ones, the
		// overflow point included.
		{"series limit reached, native histograms", 8, 0, true, true},
		// Up to 14,000 label sets exist here (2,000 templates × 7 method
		// values, plus "none"), all but 49 of which must overflow.
		{"many route templates over a small limit", 50, 2_000, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{envEnableMetrics: "true", envCardinalityLimit: strconv.Itoa(tc.limit)}
			if tc.native {
				vars[envHistograms] = string(HistogramsNative)
			}
			cfg, err := ConfigFromEnv(env.Map(vars))
			if err != nil {
				t.Fatal(err)
			}
			var logs logbuf.Buffer
			p, err := NewProvider(cfg, WithVersion("test"), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Shutdown(t.Context()) }()
			var mux http.Handler = testMux()
			path, handlers := attackPath, testHandlers
			if tc.routes > 0 {
				mux, handlers = templatesMux(tc.routes)
				path = func(i int) string {
					if i%5 == 4 {
						return attackPath(i) // unmatched: "none"
					}
					// i/20 leaves i%4 and i%7 free, so each template
					// gets bogus and standard methods alike.
					return "/route" + strconv.Itoa((i/20)%tc.routes) + "/" + strconv.Itoa(i)
				}
			}
			h := p.Middleware(mux)
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < requests; i += workers {
						h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(attackMethod(i, bogusMethods), path(i), nil))
					}
				})
			}
			wg.Wait()

			text := scrape(t, p)
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			// Otherwise the mux, measured in before, is already garbage here
			// and a large one (2,000 routes) hides any growth.
			runtime.KeepAlive(h)
			growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)

			fams := parse(t, text)
			counted, counterSeries := sumSeries(t, fams["http_requests_total"], handlers, tc.overflow)
			timed, histSeries := sumSeries(t, fams["http_request_duration_seconds"], handlers, tc.overflow)
			overflowed := fams["metricsbridge_series_overflow_total"].GetMetric()[0].GetCounter().GetValue()
			t.Logf("%d requests: %d counter and %d histogram series, %v overflowed, %d-byte scrape; heap %.1f → %.1f MiB (%+d bytes)",
				requests, counterSeries, histSeries, overflowed, len(text),
				float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20), growth)

			if counted != requests || timed != requests {
				t.Errorf("counted %v requests and timed %v, sent %d", counted, timed, requests)
			}
			if counterSeries > maxSeries || histSeries > maxSeries || counterSeries > tc.limit || histSeries > tc.limit {
				t.Errorf("%d counter and %d histogram series; want at most %d and at most the limit %d", counterSeries, histSeries, maxSeries, tc.limit)
			}
			if n := p.inst.cache.len(); n > tc.limit {
				t.Errorf("series cache holds %d attribute sets, above the limit %d", n, tc.limit)
			}
			warnings := strings.Count(logs.String(), "series limit reached")
			if tc.overflow {
				overflowSeries := counterValue(fams["http_requests_total"], `{otel_metric_overflow="true"}`)
				if overflowed == 0 || overflowed != overflowSeries || warnings != 1 {
					t.Errorf("self-metric %v, overflow series %v, %d warnings; want equal, non-zero, one warning\n%s", overflowed, overflowSeries, warnings, logs.String())
				}
			} else {
				if overflowed != 0 || warnings != 0 {
					t.Errorf("overflow below the limit: self-metric %v, %d warnings", overflowed, warnings)
				}
				var other float64
				for _, m := range fams["http_requests_total"].GetMetric() {
					if strings.Contains(labelString(m.GetLabel(), ""), `method="_OTHER"`) {
						other += m.GetCounter().GetValue()
					}
				}
				// Made-up methods and standard ones in the wrong case alike:
				// methods are case-sensitive.
				var want float64
				for i := range requests {
					if !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}, attackMethod(i, bogusMethods)) {
						want++
					}
				}
				if other != want {
					t.Errorf("%v requests labelled _OTHER, sent %v with methods that are not exactly standard", other, want)
				}
			}
			if growth > maxHeapGrowth {
				t.Errorf("heap grew by %d bytes over the attack, more than %d", growth, maxHeapGrowth)
			}
			promtest.CheckMetrics(t, []byte(text))
		})
	}
}

// templatesMux serves n route templates that accept any method, so bogus
// methods reach a template too, and returns the handler label values the
// scrape may show.
func templatesMux(n int) (*http.ServeMux, []string) {
	mux := http.NewServeMux()
	handlers := []string{HandlerNone}
	for i := range n {
		pattern := "/route" + strconv.Itoa(i) + "/{id}"
		mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x") })
		handlers = append(handlers, pattern)
	}
	return mux, handlers
}

// sumSeries adds up a counter's values or a histogram's counts and checks
// that every series is labelled as documented: a route template or
// "none", a standard method or "_OTHER", and a three-digit status, or is
// the overflow series when that is expected.
func sumSeries(t *testing.T, mf *dto.MetricFamily, handlers []string, overflow bool) (total float64, series int) {
	t.Helper()
	for _, m := range mf.GetMetric() {
		series++
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			total += float64(m.GetHistogram().GetSampleCount())
		} else {
			total += m.GetCounter().GetValue()
		}
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if overflow && len(labels) == 1 && labels["otel_metric_overflow"] == "true" {
			continue
		}
		status, hasStatus := labels["status"]
		delete(labels, "status")
		if _, err := strconv.Atoi(status); hasStatus && (len(status) != 3 || err != nil) {
			t.Errorf("status label %q", status)
		}
		if len(labels) != 2 || !slices.Contains(handlers, labels["handler"]) || !slices.Contains(mbsemconv.Methods[:], labels["method"]) {
			t.Errorf("series %s%s is not labelled by a route template and a standard method", mf.GetName(), labelString(m.GetLabel(), ""))
		}
	}
	return total, series
}

func counterValue(mf *dto.MetricFamily, labels string) float64 {
	for _, m := range mf.GetMetric() {
		if labelString(m.GetLabel(), "") == labels {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
