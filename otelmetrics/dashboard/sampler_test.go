package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

var testBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// pipeline is a MeterProvider with a ManualReader and the duration
// histogram, aggregated as the bridge's views would (explicit buckets by
// default, base-2 exponential when asked).
func pipeline(t testing.TB, exponential bool, limit int) (*sdkmetric.ManualReader, metric.Float64Histogram) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	opts := []sdkmetric.Option{sdkmetric.WithReader(r)}
	if exponential {
		opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: mbsemconv.InstrumentHTTPServerDuration},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	}
	if limit > 0 {
		opts = append(opts, sdkmetric.WithCardinalityLimit(limit))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	h, err := mp.Meter("test").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithExplicitBucketBoundaries(testBounds...))
	if err != nil {
		t.Fatal(err)
	}
	return r, h
}

func record(h metric.Float64Histogram, method, route string, status int, seconds float64, n int) {
	set := metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyHTTPMethod.String(method), mbsemconv.KeyHTTPRoute.String(route), mbsemconv.KeyHTTPStatus.Int(status)))
	for range n {
		h.Record(context.Background(), seconds, set)
	}
}

func snapshot(t testing.TB, d *dashboard.Dashboard) {
	t.Helper()
	if err := d.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSummary(t *testing.T) {
	r, h := pipeline(t, false, 0)
	d, err := dashboard.New(r, dashboard.Config{Interval: time.Second, Window: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Requests before the first snapshot are the baseline: not in the window.
	record(h, "GET", "/old", 200, 0.001, 1000)
	snapshot(t, d)
	record(h, "POST", "/tools/invoke", 200, 0.003, 80)
	record(h, "POST", "/tools/invoke", 500, 0.2, 20)
	record(h, "get", "GET /servers/{id}/sse", 200, 0.04, 50)
	record(h, "BREW", "", 418, 0.04, 10)
	snapshot(t, d)

	s := d.Summary()
	if s.Histogram != "classic" || len(s.Timeline) != 1 || s.IntervalSeconds != 1 || s.WindowSeconds != 3 {
		t.Fatalf("summary shape: %+v", s)
	}
	tot := s.Totals
	if tot.Requests != 160 || tot.Errors != 20 || tot.ErrorRatio != 20.0/160 {
		t.Errorf("totals %+v, want 160 requests, 20 errors", tot)
	}
	if got, want := tot.RequestsPerSecond, 160/s.CoveredSeconds; math.Abs(got-want) > 1e-9 {
		t.Errorf("rate %v, want %v", got, want)
	}
	// 80 at 3 ms (bucket 0.005), 60 at 40 ms (0.05), 20 at 0.2 s (0.25).
	want := dashboard.Classic{Bounds: testBounds, Counts: []uint64{80, 0, 0, 60, 0, 20, 0, 0, 0, 0, 0, 0}}
	for _, q := range []struct {
		phi float64
		got dashboard.Seconds
	}{{0.5, tot.P50}, {0.95, tot.P95}, {0.99, tot.P99}} {
		if float64(q.got) != want.Quantile(q.phi) {
			t.Errorf("p%v = %v, want %v", q.phi*100, q.got, want.Quantile(q.phi))
		}
	}
	var statuses []string
	for _, st := range s.Statuses {
		statuses = append(statuses, st.Status+"="+strconv.FormatUint(st.Requests, 10))
	}
	if got := strings.Join(statuses, " "); got != "200=130 418=10 500=20" {
		t.Errorf("statuses %s", got)
	}
	var ends []string
	for _, e := range s.Endpoints {
		ends = append(ends, e.Method+" "+e.Handler+" "+strconv.FormatUint(e.Requests, 10)+" "+strconv.FormatUint(e.Errors, 10))
	}
	// The scrape endpoint's labels: the method when it is exactly a
	// standard one, else _OTHER (methods are case-sensitive), the template
	// without method, "none" without a route.
	if got := strings.Join(ends, ", "); got != "POST /tools/invoke 100 20, _OTHER /servers/{id}/sse 50 0, _OTHER none 10 0" {
		t.Errorf("endpoints %s", got)
	}
	if e := s.Endpoints[0]; e.ErrorRatio != 0.2 || float64(e.P99) != (dashboard.Classic{Bounds: testBounds, Counts: []uint64{80, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0}}).Quantile(0.99) {
		t.Errorf("endpoint row %+v", e)
	}

	// The window slides: after three quiet snapshots the requests are gone.
	for range 3 {
		snapshot(t, d)
	}
	s = d.Summary()
	if len(s.Timeline) != 3 || s.Totals.Requests != 0 || len(s.Endpoints) != 0 || !math.IsNaN(float64(s.Totals.P99)) {
		t.Errorf("after the window: %+v", s)
	}
}

func TestSummaryExponential(t *testing.T) {
	r, h := pipeline(t, true, 0)
	d, err := dashboard.New(r, dashboard.Config{})
	if err != nil {
		t.Fatal(err)
	}
	snapshot(t, d)
	// 1 ms .. 1 s, uniform, in two snapshots so the deltas are exponential
	// differences.
	for i := 1; i <= 1000; i++ {
		record(h, "GET", "/x", 200, 0.001*float64(i), 1)
		if i == 400 {
			snapshot(t, d)
		}
	}
	snapshot(t, d)
	s := d.Summary()
	if s.Histogram != "exponential" || s.Totals.Requests != 1000 {
		t.Fatalf("summary %+v", s.Totals)
	}
	for _, q := range []struct {
		phi  float64
		got  dashboard.Seconds
		true float64
	}{{0.5, s.Totals.P50, 0.5}, {0.95, s.Totals.P95, 0.95}, {0.99, s.Totals.P99, 0.99}} {
		// Within one bucket of the truth at the SDK's scale for this
		// range and 160 buckets (scale 4: buckets 2^(1/16), 4.4 % wide).
		if rel := math.Abs(float64(q.got)-q.true) / q.true; rel > 0.045 {
			t.Errorf("p%v = %v, true %v", q.phi*100, q.got, q.true)
		}
	}
}

func TestNewConfig(t *testing.T) {
	r, _ := pipeline(t, false, 0)
	for _, tc := range []struct {
		name string
		cfg  dashboard.Config
		ok   bool
	}{
		{"defaults", dashboard.Config{}, true},
		{"zero interval keeps its default", dashboard.Config{Window: time.Minute}, true},
		{"zero window keeps its default", dashboard.Config{Interval: time.Minute}, true},
		{"negative window", dashboard.Config{Window: -1}, false},
		{"window below interval", dashboard.Config{Interval: time.Minute, Window: time.Second}, false},
		{"too many slots", dashboard.Config{Interval: time.Second, Window: 24 * time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dashboard.New(r, tc.cfg)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, dashboard.ErrConfig) {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string // error text, or "" for none
	}{
		{"defaults", nil, ""},
		{"off", map[string]string{"METRICS_DASHBOARD": "false"}, ""},
		{"bad switch", map[string]string{"METRICS_DASHBOARD": "sometimes"}, `METRICS_DASHBOARD="sometimes"`},
		{"bad interval", map[string]string{"METRICS_DASHBOARD_INTERVAL": "5"}, `METRICS_DASHBOARD_INTERVAL="5"`},
		{"window too long for the interval", map[string]string{"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": "24h"},
			`METRICS_DASHBOARD_WINDOW="24h": the window 24h0m0s over the interval 1s is 86400 snapshots`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dashboard.ConfigFromEnv(func(k string) (string, bool) { v, ok := tc.vars[k]; return v, ok })
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("ConfigFromEnv: %v, want %q", err, tc.want)
			}
			if tc.want != "" && !errors.Is(err, dashboard.ErrConfig) {
				t.Errorf("ConfigFromEnv: %v does not match ErrConfig", err)
			}
		})
	}
}

func TestHandlers(t *testing.T) {
	r, h := pipeline(t, false, 0)
	d, _ := dashboard.New(r, dashboard.Config{})
	snapshot(t, d)
	record(h, "GET", "/<script>", 200, 0.01, 1)
	snapshot(t, d)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics/summary", d.SummaryHandler())
	mux.Handle("GET /metrics/dashboard", dashboard.PageHandler())
	mux.Handle("GET /metrics/dashboard/", dashboard.PageHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/metrics/dashboard", "text/html; charset=utf-8", 200},
		{"/metrics/dashboard/dashboard.js", "text/javascript; charset=utf-8", 200},
		{"/metrics/dashboard/dashboard.css", "text/css; charset=utf-8", 200},
		{"/metrics/dashboard/icon.svg", "image/svg+xml", 200},
		{"/metrics/dashboard/other.js", "", 404},
		{"/metrics/dashboard/static/index.html", "", 404},
		{"/metrics/dashboard/dashboard", "", 404},
		{"/metrics/summary", "application/json", 200},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q", tc.path, got)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
	// With a slash the page's relative URLs would miss: redirect.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(srv.URL + "/metrics/dashboard/"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/metrics/dashboard" {
			t.Errorf("/metrics/dashboard/: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The page has no inline script or style for the policy to refuse.
	resp, _ := http.Get(srv.URL + "/metrics/dashboard")
	var sb strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	page := sb.String()
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "<style") || strings.Contains(page, " on") && strings.Contains(page, "onclick") {
		t.Errorf("the page has inline code")
	}
	// A route is data: JSON escapes it, the page writes it as text.
	resp, _ = http.Get(srv.URL + "/metrics/summary")
	sb.Reset()
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if strings.Contains(sb.String(), "<script>") || !strings.Contains(sb.String(), `\u003cscript\u003e`) {
		t.Errorf("summary: %s", sb.String())
	}
}

// TestMemoryBound fills the ring as the worst case would: every series
// changing in every snapshot, at the default cardinality limit and the
// default 180 snapshots, and reports what it holds.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 2000 series × 180 snapshots")
	}
	const slots = 180
	series := 2000
	if raceEnabled {
		series = 200
	}
	r, h := pipeline(t, false, series+1)
	d, err := dashboard.New(r, dashboard.Config{Interval: time.Second, Window: slots * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sets := make([]metric.RecordOption, series)
	for i := range sets {
		sets[i] = metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyHTTPMethod.String("GET"),
			mbsemconv.KeyHTTPRoute.String("/r"+strconv.Itoa(i/10)+"/{id}"), mbsemconv.KeyHTTPStatus.Int(200+i%10)))
	}
	round := func() {
		for i, s := range sets {
			h.Record(context.Background(), float64(i%100)/100, s)
		}
		snapshot(t, d)
	}
	// The first round creates the SDK's series and the ring's baseline,
	// which exist without the ring too.
	round()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range slots {
		round()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perEntry := float64(held) / float64(series*slots)
	t.Logf("ring of %d series × %d snapshots, every series changing every time: %.1f MiB, %.0f bytes an entry", series, slots, float64(held)/(1<<20), perEntry)
	// 12 bucket counts, the count, the sum and the entry's own fields:
	// about 155 bytes; more would mean the ring keeps what it should not.
	if perEntry > 200 {
		t.Errorf("%.0f bytes an entry, want at most 200", perEntry)
	}
	if s := d.Summary(); s.Totals.Requests != uint64(series*slots) {
		t.Errorf("summary holds %d requests, want %d", s.Totals.Requests, series*slots)
	}
	runtime.KeepAlive(d)
}

// A series that appears between two snapshots keeps the SDK's scale in the
// ring: 0.6 s read back as 0.6 s, not as somewhere in (0.5, 1].
func TestSummaryExponentialKeepsScale(t *testing.T) {
	r, h := pipeline(t, true, 0)
	d, _ := dashboard.New(r, dashboard.Config{})
	snapshot(t, d)
	record(h, "GET", "/x", 200, 0.6, 100)
	snapshot(t, d)
	if p50 := float64(d.Summary().Totals.P50); math.Abs(p50-0.6)/0.6 > 0.01 {
		t.Errorf("p50 of 100 requests of 0.6 s: %v", p50)
	}
}

// BenchmarkSummary computes the summary of a full worst-case ring (2000
// series changing in each of 180 snapshots, as in TestMemoryBound), and
// serves it again from the per-snapshot cache, as a second page polling
// before the next snapshot gets it.
func BenchmarkSummary(b *testing.B) {
	const series, slots = 2000, 180
	r, h := pipeline(b, false, series+1)
	d, err := dashboard.New(r, dashboard.Config{Interval: time.Second, Window: slots * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	sets := make([]metric.RecordOption, series)
	for i := range sets {
		sets[i] = metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyHTTPMethod.String("GET"),
			mbsemconv.KeyHTTPRoute.String("/r"+strconv.Itoa(i/10)+"/{id}"), mbsemconv.KeyHTTPStatus.Int(200+i%10)))
	}
	for range slots + 1 {
		for i, s := range sets {
			h.Record(context.Background(), float64(i%100)/100, s)
		}
		snapshot(b, d)
	}
	b.Run("compute", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = d.Summary()
		}
	})
	b.Run("served-from-cache", func(b *testing.B) {
		hd := d.SummaryHandler()
		req := httptest.NewRequest(http.MethodGet, "/metrics/summary", nil)
		hd.ServeHTTP(httptest.NewRecorder(), req)
		b.ReportAllocs()
		for b.Loop() {
			hd.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
}

// The served summary is cached per snapshot, and only per snapshot.
func TestSummaryCache(t *testing.T) {
	r, h := pipeline(t, false, 0)
	d, _ := dashboard.New(r, dashboard.Config{})
	snapshot(t, d)
	requests := func() uint64 {
		rec := httptest.NewRecorder()
		d.SummaryHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/summary", nil))
		var s dashboard.Summary
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s.Totals.Requests
	}
	record(h, "GET", "/a", 200, 0.01, 3)
	snapshot(t, d)
	if n := requests(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	record(h, "GET", "/a", 200, 0.01, 4)
	if n := requests(); n != 3 {
		t.Errorf("before the next snapshot: %d requests, want the cached 3", n)
	}
	snapshot(t, d)
	if n := requests(); n != 7 {
		t.Errorf("after the next snapshot: %d requests, want 7", n)
	}
}

// Two instrumentations recording the same route and status (the
// middleware and otelhttp on one provider) are two series that add up,
// as on the scrape endpoint; neither overwrites the other's baseline.
func TestSummaryTwoScopes(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	var hs []metric.Float64Histogram
	for _, scope := range []string{"middleware", "otelhttp"} {
		h, err := mp.Meter(scope).Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithExplicitBucketBoundaries(testBounds...))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	d, _ := dashboard.New(r, dashboard.Config{})
	record(hs[0], "GET", "/a", 200, 0.01, 5)
	record(hs[1], "GET", "/a", 200, 0.01, 50)
	snapshot(t, d)
	record(hs[0], "GET", "/a", 200, 0.01, 2)
	record(hs[1], "GET", "/a", 200, 0.01, 3)
	snapshot(t, d)
	s := d.Summary()
	if s.Totals.Requests != 5 || len(s.Endpoints) != 1 || s.Endpoints[0].Requests != 5 {
		t.Errorf("two scopes: %+v, endpoints %+v", s.Totals, s.Endpoints)
	}
}

// An instrument aggregated both ways (classic buckets and exponential,
// as a reader might export the two forms side by side; the SDK itself keeps
// one stream per name) is read once, from the exponential histogram.
func TestSummaryBothAggregations(t *testing.T) {
	attrs := attribute.NewSet(mbsemconv.KeyHTTPMethod.String("GET"), mbsemconv.KeyHTTPRoute.String("/a"), mbsemconv.KeyHTTPStatus.Int(200))
	var n uint64
	src := collectorFunc(func(_ context.Context, rm *metricdata.ResourceMetrics) error {
		*rm = metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
			{Name: mbsemconv.InstrumentHTTPServerDuration, Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Attributes: attrs, Count: n, Bounds: []float64{1}, BucketCounts: []uint64{n, 0}}}}},
			{Name: mbsemconv.InstrumentHTTPServerDuration, Data: metricdata.ExponentialHistogram[float64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.ExponentialHistogramDataPoint[float64]{{Attributes: attrs, Count: n, Scale: 3,
					PositiveBucket: metricdata.ExponentialBucket{Offset: -5, Counts: []uint64{n}}}}}},
		}}}}
		return nil
	})
	d, _ := dashboard.New(src, dashboard.Config{})
	snapshot(t, d)
	n = 10
	snapshot(t, d)
	if s := d.Summary(); s.Totals.Requests != 10 || s.Histogram != "exponential" {
		t.Errorf("both aggregations: %d requests from %s", s.Totals.Requests, s.Histogram)
	}
}

type collectorFunc func(context.Context, *metricdata.ResourceMetrics) error

func (f collectorFunc) Collect(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return f(ctx, rm)
}

// Two instrumentations of one route with bucket layouts of the same
// length but different bounds: their counts cannot be added bucket by
// bucket. Where the layouts share bounds, the percentile is read from the
// shared ones (merging the finer buckets exactly); where they share none,
// there is no percentile, while counts and the mean stay.
func TestSummaryMixedBucketLayouts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   []float64
		common []float64 // nil: no percentile
	}{
		{"disjoint layouts", []float64{0.1, 0.2, 0.3}, []float64{10, 20, 30}, nil},
		{"one refines the other", []float64{0.1, 0.5, 1}, []float64{0.1, 0.25, 0.5, 1, 2.5}, []float64{0.1, 0.5, 1}},
		{"partly shared", []float64{0.1, 0.2, 30}, []float64{0.2, 10, 30}, []float64{0.2, 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			ha, _ := mp.Meter("middleware").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithExplicitBucketBoundaries(tc.a...))
			hb, _ := mp.Meter("otelhttp").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithExplicitBucketBoundaries(tc.b...))
			d, _ := dashboard.New(r, dashboard.Config{})
			snapshot(t, d)
			record(ha, "GET", "/a", 200, 0.15, 10)
			record(hb, "GET", "/a", 200, 25, 10)
			snapshot(t, d)
			s := d.Summary()
			if s.Totals.Requests != 20 || math.Abs(float64(s.Totals.MeanLatency)-12.575) > 1e-9 {
				t.Fatalf("totals %+v, want 20 requests, mean 12.575 s", s.Totals)
			}
			var want [3]float64
			for i, q := range []float64{0.5, 0.95, 0.99} {
				want[i] = math.NaN()
				if tc.common != nil {
					// Both requests' buckets re-read on the shared bounds.
					counts := make([]uint64, len(tc.common)+1)
					for _, v := range []float64{0.15, 25} {
						j := 0
						for j < len(tc.common) && tc.common[j] < v {
							j++
						}
						counts[j] += 10
					}
					want[i] = dashboard.Classic{Bounds: tc.common, Counts: counts}.Quantile(q)
				}
			}
			got := [3]float64{float64(s.Totals.P50), float64(s.Totals.P95), float64(s.Totals.P99)}
			for i := range got {
				if !(got[i] == want[i] || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
					t.Errorf("percentiles %v, want %v", got, want)
					break
				}
			}
			if p := float64(s.Endpoints[0].P99); !(p == want[2] || math.IsNaN(p) && math.IsNaN(want[2])) {
				t.Errorf("endpoint p99 %v, want %v", p, want[2])
			}
			if p := float64(s.Timeline[0].P99); !(p == want[2] || math.IsNaN(p) && math.IsNaN(want[2])) {
				t.Errorf("timeline p99 %v, want %v", p, want[2])
			}
		})
	}
}

// BenchmarkRingByAggregation fills the ring with 1,000 series changing in
// each of 180 snapshots, aggregated as classic buckets and as base-2
// exponential histograms, and reports side by side what the ring holds
// (MiB/ring, B/entry) and what one summary costs. Each series gets three
// requests a snapshot spread over 2 ms .. 2 s, so the exponential series
// reach the SDK's 160 buckets, as real routes do over a day.
func BenchmarkRingByAggregation(b *testing.B) {
	const series, slots, perSnapshot = 1000, 180, 3
	for _, mode := range []struct {
		name        string
		exponential bool
	}{{"classic", false}, {"native", true}} {
		b.Run(mode.name, func(b *testing.B) {
			r, h := pipeline(b, mode.exponential, series+1)
			d, err := dashboard.New(r, dashboard.Config{Interval: time.Second, Window: slots * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			sets := make([]metric.RecordOption, series)
			for i := range sets {
				sets[i] = metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyHTTPMethod.String("GET"),
					mbsemconv.KeyHTTPRoute.String("/r"+strconv.Itoa(i/10)+"/{id}"), mbsemconv.KeyHTTPStatus.Int(200+i%10)))
			}
			round := func(n int) {
				for i, s := range sets {
					for j := range perSnapshot {
						k := (i*13 + n*5 + j*37) % 80
						h.Record(context.Background(), 0.002*math.Exp2(float64(k)/8), s)
					}
				}
				snapshot(b, d)
			}
			// Let every series reach its full range before measuring, so
			// the cumulative state (outside the ring) is in place.
			for n := range 30 {
				round(n)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for n := range slots {
				round(30 + n)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Summary()
			}
			// After the loop: b.Loop resets what was reported before it.
			b.ReportMetric(held/(1<<20), "MiB/ring")
			b.ReportMetric(held/(series*slots), "B/entry")
			runtime.KeepAlive(d)
		})
	}
}
