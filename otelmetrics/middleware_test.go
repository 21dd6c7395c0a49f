package otelmetrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/buckets"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

type req struct{ method, target string }

func TestExposition(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		reqs []req
		want []string
	}{
		{
			name: "routes, statuses and methods",
			reqs: []req{
				{"POST", "/tools/invoke"}, {"POST", "/tools/invoke"},
				{"GET", "/servers/abc/sse"}, {"GET", "/servers/xyz/sse"},
				{"GET", "/health"},
				{"GET", "/unavailable"},
				{"PUT", "/early-hints"},
				{"GET", "/static/css/site.css"},
				{"GET", "http://example.com/hosted"},
			},
			want: []string{
				`app_info{version="test"} 1`,
				`http_request_duration_seconds_count{handler="/early-hints",method="PUT"} 1`,
				`http_request_duration_seconds_count{handler="/health",method="GET"} 1`,
				`http_request_duration_seconds_count{handler="/hosted",method="GET"} 1`,
				`http_request_duration_seconds_count{handler="/servers/{id}/sse",method="GET"} 2`,
				`http_request_duration_seconds_count{handler="/static/",method="GET"} 1`,
				`http_request_duration_seconds_count{handler="/tools/invoke",method="POST"} 2`,
				`http_request_duration_seconds_count{handler="/unavailable",method="GET"} 1`,
				`http_requests_total{handler="/early-hints",method="PUT",status="201"} 1`,
				`http_requests_total{handler="/health",method="GET",status="200"} 1`,
				`http_requests_total{handler="/hosted",method="GET",status="200"} 1`,
				`http_requests_total{handler="/servers/{id}/sse",method="GET",status="200"} 2`,
				`http_requests_total{handler="/static/",method="GET",status="200"} 1`,
				`http_requests_total{handler="/tools/invoke",method="POST",status="200"} 2`,
				`http_requests_total{handler="/unavailable",method="GET",status="503"} 1`,
				`metricsbridge_collection_errors_total 0`,
				`metricsbridge_series_overflow_total 0`,
				`metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			name: "unmatched routes and unknown methods never become labels",
			reqs: []req{
				{"GET", "/users/12345/profile"}, {"GET", "/users/67890/profile"},
				{"BREW", "/tools/invoke"}, // path known, method not: 405, no pattern
				// Methods are case-sensitive: ServeMux answers "get" 405, and
				// a client sending it must not add to the GET series.
				{"get", "/health"},
				{"PROPFIND", "/anything"},   // non-standard method
				{"delete", "/nothing/here"}, // standard method in lower case: not a standard method
			},
			want: []string{
				`app_info{version="test"} 1`,
				`http_request_duration_seconds_count{handler="none",method="GET"} 2`,
				`http_request_duration_seconds_count{handler="none",method="_OTHER"} 4`,
				`http_requests_total{handler="none",method="GET",status="404"} 2`,
				`http_requests_total{handler="none",method="_OTHER",status="404"} 2`,
				`http_requests_total{handler="none",method="_OTHER",status="405"} 2`,
				`metricsbridge_collection_errors_total 0`,
				`metricsbridge_series_overflow_total 0`,
				`metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			name: "namespace and subsystem prefix every series",
			env:  map[string]string{envNamespace: "shop", envSubsystem: "api"},
			reqs: []req{{"GET", "/health"}},
			want: []string{
				`shop_api_app_info{version="test"} 1`,
				`shop_api_http_request_duration_seconds_count{handler="/health",method="GET"} 1`,
				`shop_api_http_requests_total{handler="/health",method="GET",status="200"} 1`,
				`shop_api_metricsbridge_collection_errors_total 0`,
				`shop_api_metricsbridge_series_overflow_total 0`,
				`shop_api_metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			name: "default namespace with a subsystem",
			env:  map[string]string{envNamespace: "default", envSubsystem: "gw"},
			reqs: []req{{"GET", "/health"}},
			want: []string{
				`gw_app_info{version="test"} 1`,
				`gw_http_request_duration_seconds_count{handler="/health",method="GET"} 1`,
				`gw_http_requests_total{handler="/health",method="GET",status="200"} 1`,
				`gw_metricsbridge_collection_errors_total 0`,
				`gw_metricsbridge_series_overflow_total 0`,
				`gw_metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			// The Python gateway's re.search: a pattern matches anywhere
			// in the raw path or in the route template.
			name: "excluded patterns search the path and the template",
			env:  map[string]string{envExcludedHandlers: `/static/, ^/health$,\{id\}`},
			reqs: []req{
				{"GET", "/static/a.css"},     // unanchored: a prefix is enough
				{"GET", "/api/static/a.css"}, // and so is the middle
				{"GET", "/health"},           // anchored explicitly
				{"GET", "/healthz"},          // so this one counts
				{"GET", "/servers/1/sse"},    // the template /servers/{id}/sse matches
				{"POST", "/tools/invoke"},
			},
			want: []string{
				`app_info{version="test"} 1`,
				`http_request_duration_seconds_count{handler="/tools/invoke",method="POST"} 1`,
				`http_request_duration_seconds_count{handler="none",method="GET"} 1`,
				`http_requests_total{handler="/tools/invoke",method="POST",status="200"} 1`,
				`http_requests_total{handler="none",method="GET",status="404"} 1`,
				`metricsbridge_collection_errors_total 0`,
				`metricsbridge_series_overflow_total 0`,
				`metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			name: "custom labels on app_info only",
			env:  map[string]string{envCustomLabels: "env=production, region=us-east-1"},
			reqs: []req{{"GET", "/health"}},
			want: []string{
				`app_info{env="production",region="us-east-1",version="test"} 1`,
				`http_request_duration_seconds_count{handler="/health",method="GET"} 1`,
				`http_requests_total{handler="/health",method="GET",status="200"} 1`,
				`metricsbridge_collection_errors_total 0`,
				`metricsbridge_series_overflow_total 0`,
				`metricsbridge_unrouted_requests_total 0`,
			},
		},
		{
			name: "series limit folds new label sets into one overflow series",
			env:  map[string]string{envCardinalityLimit: "3"},
			reqs: []req{
				{"GET", "/health"}, {"GET", "/unavailable"}, // fill the 2 real series
				{"POST", "/tools/invoke"}, {"GET", "/nope"}, {"GET", "/nope"},
				{"GET", "/health"}, // an existing series keeps counting
			},
			want: []string{
				`app_info{version="test"} 1`,
				`http_request_duration_seconds_count{handler="/health",method="GET"} 2`,
				`http_request_duration_seconds_count{handler="/unavailable",method="GET"} 1`,
				`http_request_duration_seconds_count{otel_metric_overflow="true"} 3`,
				`http_requests_total{handler="/health",method="GET",status="200"} 2`,
				`http_requests_total{handler="/unavailable",method="GET",status="503"} 1`,
				`http_requests_total{otel_metric_overflow="true"} 3`,
				`metricsbridge_collection_errors_total 0`,
				`metricsbridge_series_overflow_total 3`,
				`metricsbridge_unrouted_requests_total 0`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, tc.env)
			h := p.Middleware(testMux())
			for _, r := range tc.reqs {
				do(h, r.method, r.target)
			}
			text := scrape(t, p)
			if got := seriesOf(t, text); !slices.Equal(got, tc.want) {
				t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			checkHistograms(t, text, buckets.Default())
			for _, noise := range []string{"otel_scope", "target_info", "_ratio", "_milliseconds"} {
				if strings.Contains(text, noise) {
					t.Errorf("exposition contains %q:\n%s", noise, text)
				}
			}
		})
	}
}

func TestLatencyBuckets(t *testing.T) {
	p := newTestProvider(t, map[string]string{envLatencyBuckets: "0.1, 0.5,1"})
	do(p.Middleware(testMux()), "GET", "/health")
	text := scrape(t, p)
	checkHistograms(t, text, []float64{0.1, 0.5, 1})
	if !strings.Contains(text, `http_request_duration_seconds_bucket{handler="/health",method="GET",le="0.1"} 1`) {
		t.Errorf("fast request not in the le=0.1 bucket:\n%s", text)
	}
}

func TestPanicIsRecordedAs500AndRepanicked(t *testing.T) {
	p := newTestProvider(t, nil)
	h := p.Middleware(testMux())
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's own panic value", r)
			}
		}()
		do(h, "GET", "/panic")
	}()
	want := `http_requests_total{handler="/panic",method="GET",status="500"} 1`
	if got := seriesOf(t, scrape(t, p)); !slices.Contains(got, want) {
		t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
	}
}

// http.ErrAbortHandler is how httputil.ReverseProxy ends a response whose
// stream broke. Once a status reached the client, that status is what
// counts; a status still in the server's buffer never leaves it (the
// connection is closed), so the client saw a failure and a 500 is
// recorded, as for any panic. Checked against what a real client gets.
func TestAbortedStreamKeepsItsStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(w http.ResponseWriter)
		want   int // 0: the client gets no status line
	}{
		{"after a flushed header", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			_ = http.NewResponseController(w).Flush()
		}, http.StatusAccepted},
		{"after a header not flushed", func(w http.ResponseWriter) { w.WriteHeader(http.StatusPartialContent) }, 0},
		{"after a short body write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("data: 1\n\n")) }, 0},
		{"after a body larger than the server's buffer", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(make([]byte, 3000))
		}, http.StatusPartialContent},
		{"before anything", func(http.ResponseWriter) {}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, nil)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) {
				tc.before(w)
				panic(http.ErrAbortHandler)
			})
			srv := httptest.NewServer(p.Middleware(mux))
			defer srv.Close()
			got := 0
			if resp, err := http.Get(srv.URL + "/stream"); err == nil {
				got = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if got != tc.want {
				t.Fatalf("the client got status %d, want %d", got, tc.want)
			}
			recorded := tc.want
			if recorded == 0 {
				recorded = http.StatusInternalServerError
			}
			waitForSeries(t, p, `http_requests_total{handler="/stream",method="GET",status="`+strconv.Itoa(recorded)+`"} 1`)
		})
	}
}

func TestTwoProvidersInOneProcess(t *testing.T) {
	a := newTestProvider(t, nil)
	b := newTestProvider(t, map[string]string{envNamespace: "b"})
	do(a.Middleware(testMux()), "GET", "/health")
	do(b.Middleware(testMux()), "GET", "/health")
	do(b.Middleware(testMux()), "GET", "/health")
	if got := scrape(t, a); !strings.Contains(got, `http_requests_total{handler="/health",method="GET",status="200"} 1`) {
		t.Errorf("provider a:\n%s", got)
	}
	if got := scrape(t, b); !strings.Contains(got, `b_http_requests_total{handler="/health",method="GET",status="200"} 2`) {
		t.Errorf("provider b:\n%s", got)
	}
}

func TestDisabledRecordsNothingAndAnswers503(t *testing.T) {
	p := newTestProvider(t, map[string]string{envEnableMetrics: "false"})
	h := p.Middleware(testMux())
	if code := do(h, "GET", "/health"); code != http.StatusOK {
		t.Fatalf("request through a disabled provider: %d", code)
	}
	if code := do(p.MetricsHandler(), "GET", "/metrics/prometheus"); code != http.StatusServiceUnavailable {
		t.Errorf("endpoint status %d, want 503", code)
	}
}

func TestMethodLabel(t *testing.T) {
	for _, tc := range []struct{ name, method, want string }{
		{"GET", "GET", "GET"}, {"POST", "POST", "POST"}, {"PATCH", "PATCH", "PATCH"}, {"OPTIONS", "OPTIONS", "OPTIONS"},
		{"CONNECT", "CONNECT", "CONNECT"}, {"TRACE", "TRACE", "TRACE"}, {"HEAD", "HEAD", "HEAD"}, {"PUT", "PUT", "PUT"},
		{"DELETE", "DELETE", "DELETE"},
		{"lower case", "get", "_OTHER"}, {"mixed case", "Post", "_OTHER"}, {"lower case options", "options", "_OTHER"},
		{"unknown", "PROPFIND", "_OTHER"}, {"longer", "GETS", "_OTHER"}, {"empty", "", "_OTHER"}, {"full width", "ＧＥＴ", "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mbsemconv.Methods[methodIndex(tc.method)]; got != tc.want {
				t.Errorf("method %q → %q, want %q", tc.method, got, tc.want)
			}
		})
	}
}

// A request whose method is not exactly a standard one costs no more
// allocations than a GET once its series exists: the method is looked up,
// never upper-cased into a new string.
func TestOddMethodsAllocateNothingMore(t *testing.T) {
	p := newTestProvider(t, nil)
	mux := testMux()
	h := p.Middleware(mux)
	w := &discardWriter{h: http.Header{}}
	added := func(method string) float64 {
		r := httptest.NewRequest(method, "/health", nil)
		h.ServeHTTP(w, r) // creates the series
		return testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }) -
			testing.AllocsPerRun(100, func() { mux.ServeHTTP(w, r) })
	}
	base := added(http.MethodGet)
	for _, m := range []string{"get", "Get", "PROPFIND", "delete"} {
		if n := added(m); n > base {
			t.Errorf("method %q: the middleware adds %v allocations, %v for GET", m, n, base)
		}
	}
}

// The middleware's one allocation is the request's state, small: a copy of
// the request (250 bytes and more) carrying it was most of what every
// request paid, around a bare ServeMux as around RoutePattern.
func TestRequestStateIsSmall(t *testing.T) {
	p := newTestProvider(t, nil)
	mux := testMux()
	w := &discardWriter{h: http.Header{}}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"the mux", p.Middleware(mux)},
		{"RoutePattern(mux)", p.Middleware(RoutePattern(mux))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/tools/invoke", nil)
			tc.h.ServeHTTP(w, r) // creates the series
			allocs := testing.AllocsPerRun(100, func() { tc.h.ServeHTTP(w, r) }) -
				testing.AllocsPerRun(100, func() { mux.ServeHTTP(w, r) })
			bytes := bytesPerRun(100, func() { tc.h.ServeHTTP(w, r) }) -
				bytesPerRun(100, func() { mux.ServeHTTP(w, r) })
			if allocs > 1 || bytes > 128 {
				t.Errorf("the middleware adds %v allocations, %v bytes a request; want 1 of at most 128", allocs, bytes)
			}
		})
	}
}

// The caller's request keeps answering as its own context did, and serving
// the same request again (a retry, a test) does not stack one request's
// state on the last one's.
func TestCallersRequestAfterward(t *testing.T) {
	type key struct{}
	p := newTestProvider(t, nil)
	h := p.Middleware(testMux())
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/health", nil)
	for range 3 {
		if code := do2(h, r); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if got := r.Context().Value(key{}); got != "v" {
		t.Errorf("the caller's context value is %v", got)
	}
	if c, ok := r.Context().(stateCtx); ok {
		if _, stacked := c.s.parent.(stateCtx); stacked {
			t.Error("a pass's state stacked on a finished one's")
		}
	}
	cancel()
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the caller's cancellation does not reach the request's context")
	}
	if got := seriesOf(t, scrape(t, p)); !slices.Contains(got, `http_requests_total{handler="/health",method="GET",status="200"} 3`) {
		t.Errorf("not 3 requests:\n%s", strings.Join(got, "\n"))
	}
}

func do2(h http.Handler, r *http.Request) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

// A goroutine the handler starts may read the request after the handler
// returned, as the caller may: the middleware sets the request's context
// once, before next runs, and writes the request no more. Run with -race.
func TestRequestReadAfterReturnDoesNotRace(t *testing.T) {
	p := newTestProvider(t, nil)
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("GET /work", func(_ http.ResponseWriter, r *http.Request) {
		wg.Go(func() {
			<-r.Context().Done()
			_ = r.Pattern + r.Method
		})
	})
	srv := httptest.NewServer(p.Middleware(mux))
	defer srv.Close()
	for range 20 {
		resp, err := srv.Client().Get(srv.URL + "/work")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	wg.Wait()
	if got := seriesOf(t, scrape(t, p)); !slices.Contains(got, `http_requests_total{handler="/work",method="GET",status="200"} 20`) {
		t.Errorf("not 20 requests:\n%s", strings.Join(got, "\n"))
	}
}
