package examples

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// trafficKind is one kind of request sent to the demo gateway, with the
// series it lands in.
type trafficKind struct {
	name     string
	method   string
	path     func(i int) string
	body     string
	handler  string // the handler label
	status   int
	slowness string // "fast", "35ms" or "350ms": which latency bucket it lands in
	count    int    // how many are sent after the primer
}

// valueTraffic is the known mix: successes, client errors and 5xx, fast and
// slow, over four handlers. The sleeps sit in the middle of their buckets
// (0.025–0.05 and 0.25–0.5) so scheduling delays cannot move them out.
var valueTraffic = []trafficKind{
	{"echo", "POST", fixed("/tools/invoke"), `{"tool":"echo"}`, "/tools/invoke", 200, "fast", 240},
	{"fail", "POST", fixed("/tools/invoke"), `{"tool":"fail"}`, "/tools/invoke", 500, "fast", 40},
	{"bad body", "POST", fixed("/tools/invoke"), `not json`, "/tools/invoke", 400, "fast", 20},
	{"sleep 35ms", "POST", fixed("/tools/invoke"), `{"tool":"sleep","args":{"ms":35}}`, "/tools/invoke", 200, "35ms", 60},
	{"sleep 350ms", "POST", fixed("/tools/invoke"), `{"tool":"sleep","args":{"ms":350}}`, "/tools/invoke", 200, "350ms", 30},
	{"sse", "GET", func(i int) string { return "/servers/" + strconv.Itoa(i) + "/sse?events=1" }, "", "/servers/{id}/sse", 200, "fast", 20},
	{"unrouted", "GET", func(i int) string { return "/nowhere/" + strconv.Itoa(i) }, "", "none", 404, "fast", 20},
	{"static", "GET", fixed("/static/"), "", "/static/", 200, "fast", 10},
}

func fixed(p string) func(int) string { return func(int) string { return p } }

// sendTraffic sends count requests of each kind (or one of each when
// primer is set) from 8 clients, checking every status.
func sendTraffic(t *testing.T, base string, primer bool) {
	t.Helper()
	type job struct {
		k trafficKind
		i int
	}
	var jobs []job
	for _, k := range valueTraffic {
		n := k.count
		if primer {
			n = 1
		}
		for i := range n {
			jobs = append(jobs, job{k, i})
		}
	}
	// Interleave the kinds so slow requests overlap fast ones.
	slices.SortStableFunc(jobs, func(a, b job) int { return a.i - b.i })
	work := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range 8 {
		wg.Go(func() {
			for j := range work {
				req, _ := http.NewRequest(j.k.method, base+j.k.path(j.i), strings.NewReader(j.k.body))
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != j.k.status {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s %s: %v %v, want %d", j.k.method, j.k.path(j.i), resp, err, j.k.status))
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d requests went wrong, first: %s", len(errs), errs[0])
	}
}

// expected sums the counts of kinds by the given labels; each key is the
// label values joined by spaces, in the order given.
func expected(kinds []trafficKind, by ...string) map[string]float64 {
	m := map[string]float64{}
	for _, k := range kinds {
		vals := map[string]string{"method": k.method, "handler": k.handler, "status": strconv.Itoa(k.status), "job": jobName}
		var key []string
		for _, l := range by {
			key = append(key, vals[l])
		}
		m[strings.Join(key, " ")] += float64(k.count)
	}
	return m
}

// keyed turns a query result into the same keys as expected.
func keyed(res []promtest.Sample, by ...string) map[string]float64 {
	m := map[string]float64{}
	for _, s := range res {
		var key []string
		for _, l := range by {
			key = append(key, s.Metric[l])
		}
		m[strings.Join(key, " ")] = s.Value
	}
	return m
}

// scrapeTime returns the timestamp of the newest scrape of the job that
// started after the given time.
func scrapeTime(t *testing.T, prom *promtest.Server, after time.Time) time.Time {
	t.Helper()
	// timestamp() of a bare selector is the sample's own time; of any other
	// expression (up == 1) it would be the evaluation time.
	res := prom.WaitFor(t, `timestamp(up{job="`+jobName+`"})`, 30*time.Second, func(s []promtest.Sample) bool {
		return len(s) == 1 && s[0].Value*1000 > float64(after.UnixMilli())
	})
	return time.UnixMilli(int64(math.Round(res[0].Value * 1000)))
}

// valueAt runs expr at the given time and returns its only sample's value.
func valueAt(t *testing.T, prom *promtest.Server, expr string, at time.Time) float64 {
	t.Helper()
	res, err := prom.QueryAt(expr, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%s: want one sample, got %v", expr, res)
	}
	return res[0].Value
}

// scrapes is the scrape endpoint's own traffic as a kind: the bridge records
// those requests like any other.
func scrapes(n float64) trafficKind {
	return trafficKind{"scrape", "GET", fixed("/metrics/prometheus"), "", "/metrics/prometheus", 200, "fast", int(n)}
}

// The real bridge, with auth on, scraped by a real Prometheus using the
// shipped prometheus.yml, receives a known mix of requests; every dashboard
// query and every recording rule then returns exactly what that traffic
// implies, and the series hold exactly the requests of the whole run.
//
// Exactness comes from the window. One request of each kind (the primer)
// creates every series before the measured traffic; the window runs from
// the scrape that saw the primer to the scrape after the traffic, and the
// queries are evaluated at that last scrape. With samples at both ends of
// the window, Prometheus does not extrapolate, so increase() is the number
// of requests sent and rate() that number over the window's length. The
// dashboard's $__range and $__rate_interval and the rules' 5m are set to
// the window; what is checked is each expression's logic, for the windows
// its authors chose are only a parameter.
//
// The bridge runs with serve's defaults apart from the token secret and
// ENABLE_METRICS, as deployed: the probes are left out of the metrics and
// the scrapes are recorded like any other request, so every expectation
// includes them, counted from Prometheus's own samples.
func TestShippedQueriesMatchTraffic(t *testing.T) {
	addr := startProgram(t, "../cmd/metricsbridge", "ENABLE_METRICS=true")
	base := "http://" + addr

	cfg, _ := shippedConfig(t, addr)
	// anchored (below) is behind this flag in Prometheus 3.
	prom := promtest.Start(t, marshalYAML(t, cfg), "--enable-feature=promql-extended-range-selectors")
	prom.WaitFor(t, `up{job="`+jobName+`"} == 1`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })

	sendTraffic(t, base, true)
	from := scrapeTime(t, prom, time.Now())
	// The scrape at from is stored; everything sent now comes after it.
	start := time.Now()
	sendTraffic(t, base, false)
	sent := time.Since(start)
	to := scrapeTime(t, prom, time.Now())
	window := to.Sub(from)
	w := strconv.FormatInt(window.Milliseconds(), 10) + "ms"
	secs := window.Seconds()

	// Prometheus 2's range selectors included their left end, so [w] at to
	// held the sample at from and increase() did not extrapolate.
	// Prometheus 3 made them left-open: the sample at from falls out and
	// every increase() and rate() is extrapolated to the window's start, a
	// guess. The queries are therefore evaluated with the "anchored" range
	// modifier, which takes the sample at or before the window's start and
	// never extrapolates: the Prometheus 2 reading of the same expression,
	// so the expectations stay exact. The samples of the window are counted
	// over a range 500ms wider (scrapes are 1s apart), which holds from
	// whichever way the left end is treated.
	upRange := `count_over_time(up{job="` + jobName + `"}[%s])`
	samples := valueAt(t, prom, fmt.Sprintf(upRange, strconv.FormatInt(window.Milliseconds()+500, 10)+"ms"), to)
	if open := valueAt(t, prom, fmt.Sprintf(upRange, w), to); open != samples-1 {
		t.Fatalf("[%s] holds %v samples, a range 500ms wider %v: want the left-open ranges of Prometheus 3", w, open, samples)
	}
	// A scrape is recorded once it has answered, so each sample counts the
	// scrapes before it: the window gains one request per sample but the last.
	measured := append(slices.Clone(valueTraffic), scrapes(samples-1))
	t.Logf("%.0f requests in %s and %.0f scrapes; window %s", sum(expected(valueTraffic)), sent.Round(time.Millisecond), samples-1, window)

	counts := func(by ...string) map[string]float64 { return expected(measured, by...) }
	rates := func(by ...string) map[string]float64 {
		m := counts(by...)
		for k := range m {
			m[k] /= secs
		}
		return m
	}
	fiveXX := func(by ...string) map[string]float64 {
		m := rates(append([]string{"status"}, by...)...)
		for k := range m {
			if !strings.HasPrefix(k, "5") {
				delete(m, k)
			}
		}
		return m
	}
	// The latency buckets the known durations fall in: everything but the
	// sleeps answers within (0, 0.025], the 350ms sleeps within (0.25, 0.5].
	// histogram_quantile interpolates inside a bucket, so only the bucket is
	// known.
	const fast, slowLo, slowHi = 0.025, 0.25, 0.5
	// Each shipped query, keyed by its Source, and what it must return.
	type want struct {
		by    []string
		exact map[string]float64    // values by key, to 1e-9
		rng   map[string][2]float64 // or a (lo, hi] range by key
	}
	wants := map[string]want{
		`panel "Request rate" query A`: {by: []string{"method", "handler"}, exact: rates("method", "handler")},
		`panel "Error rate" query A`:   {by: []string{"status", "method", "handler"}, exact: fiveXX("method", "handler")},
		// About 80% of the requests are fast, 14% take 35ms and 7% 350ms:
		// the median is fast and the 95th and 99th percentiles are slow.
		`panel "Latency percentiles" query A`:      {rng: map[string][2]float64{"": {0, fast}}},
		`panel "Latency percentiles" query B`:      {rng: map[string][2]float64{"": {slowLo, slowHi}}},
		`panel "Latency percentiles" query C`:      {rng: map[string][2]float64{"": {slowLo, slowHi}}},
		`panel "Status code distribution" query A`: {by: []string{"status"}, exact: counts("status")},
		// Fewer than ten endpoints: topk keeps them all.
		`panel "Top endpoints" query A`: {by: []string{"method", "handler"}, exact: counts("method", "handler")},

		"recording rule job_handler_method_status:http_requests:rate5m": {by: []string{"job", "handler", "method", "status"}, exact: rates("job", "handler", "method", "status")},
		"recording rule job:http_requests:rate5m":                       {by: []string{"job"}, exact: rates("job")},
		// 5xx over all requests, 400s and 404s included in the denominator.
		"recording rule job:http_requests_5xx:ratio_rate5m": {by: []string{"job"}, exact: map[string]float64{
			jobName: counts("status")["500"] / sum(counts()),
		}},
		"recording rule job:http_request_duration_seconds:p50_rate5m": {by: []string{"job"}, rng: map[string][2]float64{jobName: {0, fast}}},
		"recording rule job:http_request_duration_seconds:p95_rate5m": {by: []string{"job"}, rng: map[string][2]float64{jobName: {slowLo, slowHi}}},
		"recording rule job:http_request_duration_seconds:p99_rate5m": {by: []string{"job"}, rng: map[string][2]float64{jobName: {slowLo, slowHi}}},
		// Only /tools/invoke has slow requests (30 of 390, above 1%). A
		// scrape's duration depends on the machine's load more than a demo
		// request's, so it is only known not to be slow.
		"recording rule job_handler:http_request_duration_seconds:p99_rate5m": {by: []string{"job", "handler"}, rng: map[string][2]float64{
			jobName + " /tools/invoke":       {slowLo, slowHi},
			jobName + " /servers/{id}/sse":   {0, fast},
			jobName + " none":                {0, fast},
			jobName + " /static/":            {0, fast},
			jobName + " /metrics/prometheus": {0, slowLo},
		}},
	}

	vars := DashboardVars{Prefix: "", Job: jobName, RateInterval: w, Range: w}
	queries := append(DashboardQueries(t, vars), RecordingRuleQueries(t)...)
	seen := map[string]bool{}
	for _, q := range queries {
		seen[q.Source] = true
		wt, ok := wants[q.Source]
		if !ok {
			t.Errorf("%s has no expected value in this test; add one\n%s", q.Source, q.Expr)
			continue
		}
		expr := strings.ReplaceAll(q.Expr, "[5m]", "["+w+"]")
		expr = strings.ReplaceAll(expr, "["+w+"]", "["+w+"] anchored")
		res, err := prom.QueryAt(expr, to)
		if err != nil {
			t.Errorf("%s: %v", q.Source, err)
			continue
		}
		got := keyed(res, wt.by...)
		switch {
		case wt.exact != nil:
			if !approxEqual(got, wt.exact) {
				t.Errorf("%s = %s\nwant %s\n%s", q.Source, format(got), format(wt.exact), expr)
			}
		case wt.rng != nil:
			if len(got) != len(wt.rng) {
				t.Errorf("%s = %s, want keys of %v\n%s", q.Source, format(got), wt.rng, expr)
			}
			for k, r := range wt.rng {
				if v, ok := got[k]; !ok || !(v > r[0] && v <= r[1]) {
					t.Errorf("%s{%s} = %v, want in (%v, %v]\n%s", q.Source, k, v, r[0], r[1], expr)
				}
			}
		}
	}
	for src := range wants {
		if !seen[src] {
			t.Errorf("expectation for %s, which is no longer shipped", src)
		}
	}

	// Over the whole run the series need no window at all: a counter's last
	// value is every request since the bridge started, the primer included,
	// and the scrape series every scrape before the last. The histogram
	// counts the same requests, and its (0.25, 0.5] bucket exactly the 350ms
	// sleeps. Nothing else, the probes polled at start-up among them, has a
	// series.
	whole := slices.Clone(valueTraffic)
	for i := range whole {
		whole[i].count++
	}
	whole = append(whole, scrapes(valueAt(t, prom, fmt.Sprintf(upRange, "1h"), to)-1))
	slow := map[string]float64{}
	for h := range expected(whole, "handler") {
		slow[h] = 0
	}
	for _, k := range whole {
		if k.slowness == "350ms" {
			slow[k.handler] += float64(k.count)
		}
	}
	sel := `{job="` + jobName + `"}`
	for _, c := range []struct {
		expr string
		by   []string
		want map[string]float64
	}{
		{"http_requests_total" + sel, []string{"method", "handler", "status"}, expected(whole, "method", "handler", "status")},
		{"sum by (method, handler) (http_request_duration_seconds_count" + sel + ")", []string{"method", "handler"}, expected(whole, "method", "handler")},
		{`sum by (handler) (http_request_duration_seconds_bucket{job="` + jobName + `",le="0.5"}) - sum by (handler) (http_request_duration_seconds_bucket{job="` + jobName + `",le="0.25"})`, []string{"handler"}, slow},
	} {
		res, err := prom.QueryAt(c.expr, to)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := keyed(res, c.by...); !approxEqual(got, c.want) {
			t.Errorf("%s = %s\nwant %s", c.expr, format(got), format(c.want))
		}
	}

	// A deliberately wrong total would be caught: the check is not vacuous.
	if approxEqual(map[string]float64{"x": 330}, map[string]float64{"x": 331}) {
		t.Error("approxEqual accepts an off-by-one total")
	}
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// approxEqual compares with a relative tolerance for float rounding in
// rate() and the division by the window.
func approxEqual(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}

func format(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %q: %.6g", k, m[k])
	}
	return b.String()
}
