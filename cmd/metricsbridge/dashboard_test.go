package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/browsertest"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

var dashboardScreenshot = flag.String("dashboard.screenshot", "", "write TestDashboardInBrowser's screenshot of the page to this PNG file (docs/dashboard.png, shown in README.md and docs/dashboard.md)")

// summaryOf fetches /metrics/summary with a bearer token.
func summaryOf(t *testing.T, base, token string) dashboard.Summary {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	code, body := get(t, http.DefaultClient, base+pathSummary, h)
	if code != http.StatusOK {
		t.Fatalf("summary: %d %s", code, body)
	}
	var s dashboard.Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, body)
	}
	return s
}

// Formats as the page writes them (dashboard.js, fmt).
func jsRate(v float64) string { return jsFixed(v, 2) }
func jsPct(v float64) string  { return jsFixed(v*100, 2) + " %" }
func jsMS(v dashboard.Seconds) string {
	if f := float64(v); f != f {
		return "–"
	}
	return jsFixed(float64(v)*1000, 1) + " ms"
}

// jsFixed is JavaScript's Number.prototype.toFixed for x ≥ 0: the exact
// value of x rounded half up, where strconv rounds an exact tie (1/32 as a
// percentage, 3.125) to even.
func jsFixed(x float64, digits int) string {
	exact := strconv.FormatFloat(x, 'f', 1100, 64) // every digit of a float64
	dot := strings.IndexByte(exact, '.')
	kept := new(big.Int)
	kept.SetString(exact[:dot]+exact[dot+1:dot+1+digits], 10)
	if exact[dot+1+digits] >= '5' {
		kept.Add(kept, big.NewInt(1))
	}
	if digits == 0 {
		return kept.String()
	}
	s := fmt.Sprintf("%0*s", digits+1, kept.String())
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

// pageView is what the page shows, read from its DOM.
type pageView struct {
	GeneratedAt string
	Stats       map[string]string
	Panels      []string // section ids with an SVG chart or the endpoints table
	Timeline    int      // rows of the request-rate table
	Statuses    [][]string
	Endpoints   [][]string
}

const readPage = `(() => {
  const text = (id) => document.getElementById(id).textContent;
  const rows = (sel) => [...document.querySelectorAll(sel)].map((tr) => [...tr.cells].map((c) => c.textContent));
  return {
    GeneratedAt: document.getElementById('panels').dataset.generatedAt || '',
    Stats: { rate: text('s-rate'), errors: text('s-errors'), p50: text('s-p50'), p95: text('s-p95'), p99: text('s-p99') },
    Panels: [...document.querySelectorAll('main section.panel')].filter((s) => s.querySelector('svg, table#endpoints')).map((s) => s.id),
    Timeline: document.querySelectorAll('#t-rate tbody tr').length,
    Statuses: rows('#t-status tbody tr'),
    Endpoints: rows('#endpoints tbody tr'),
  };
})()`

// TestDashboardInBrowser loads the page in headless Chromium against serve
// with a bearer key: it asks for a token, shows the 401 reason for a wrong
// one, then shows all five panels with the numbers the summary holds; the
// endpoints table sorts and filters; the browser reports no error.
func TestDashboardInBrowser(t *testing.T) {
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "JWT_SECRET_KEY": testSecret,
		"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": "2m",
	})
	token, err := auth.Mint(auth.MintOptions{Username: "dashboard@test", Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := auth.Mint(auth.MintOptions{Username: "dashboard@test", Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	// A traffic mix over a few snapshots: successes, tool failures (500),
	// bad requests (400), slow calls, streams and unrouted paths.
	for round := range 4 {
		for range 10 {
			post(t, b.base+"/tools/invoke", `{"tool":"echo"}`, http.StatusOK)
		}
		for range 3 {
			post(t, b.base+"/tools/invoke", `{"tool":"fail"}`, http.StatusInternalServerError)
		}
		post(t, b.base+"/tools/invoke", `{}`, http.StatusBadRequest)
		post(t, b.base+"/tools/invoke", fmt.Sprintf(`{"tool":"sleep","args":{"ms":%d}}`, 20+40*round), http.StatusOK)
		mustGet(t, b.base+"/servers/s1/sse?events=2&interval=1ms", nil)
		mustGet(t, b.base+"/nowhere", nil)
		time.Sleep(600 * time.Millisecond)
	}
	// Then steady traffic until the test ends, so that the charts (and the
	// screenshot) show a few seconds of it: bounded in time and count.
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		client := &http.Client{Timeout: 5 * time.Second}
		send := func(body string) {
			resp, err := client.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
			}
		}
		for i := range 300 {
			for range 3 + i%4 {
				send(`{"tool":"echo"}`)
			}
			if i%3 == 0 {
				send(`{"tool":"fail"}`)
			}
			send(fmt.Sprintf(`{"tool":"sleep","args":{"ms":%d}}`, 5+(i*37)%90))
			select {
			case <-stopTraffic:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopTraffic); <-trafficDone }()
	time.Sleep(1200 * time.Millisecond)

	br := browsertest.Start(t)
	page := br.NewPage(1280, 1000)
	if err := page.Navigate(b.base + pathDashboard); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitFor(`document.body.dataset.state === "login" && !document.getElementById("login").hidden`, 10*time.Second); err != nil {
		t.Fatalf("the page does not ask for a token: %v", err)
	}

	if err := page.Type("#token", wrong); err != nil {
		t.Fatal(err)
	}
	if err := page.Click("#login button[type=submit]"); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitFor(`document.getElementById("login-reason").textContent.includes("401")`, 10*time.Second); err != nil {
		t.Fatalf("a wrong token shows no reason: %v", err)
	}
	var reason string
	_ = page.Eval(`document.getElementById("login-reason").textContent`, &reason)
	t.Logf("a wrong token shows: %s", reason)
	if !strings.Contains(reason, "signature does not verify") {
		t.Errorf("reason shown for a wrong token: %q, want the 401 body's reason", reason)
	}

	if err := page.Type("#token", token); err != nil {
		t.Fatal(err)
	}
	if err := page.Click("#login button[type=submit]"); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitFor(`document.body.dataset.state === "ready"`, 10*time.Second); err != nil {
		t.Fatalf("the page does not show the panels: %v", err)
	}
	var kept string
	_ = page.Eval(`sessionStorage.getItem("metricsbridge.token")`, &kept)
	if kept != token {
		t.Errorf("the token is not kept in the tab's sessionStorage")
	}

	// The page refreshes every second: compare with the summary of the
	// same snapshot.
	var view pageView
	var sum dashboard.Summary
	for attempt := 0; ; attempt++ {
		if err := page.Eval(readPage, &view); err != nil {
			t.Fatal(err)
		}
		sum = summaryOf(t, b.base, token)
		if view.GeneratedAt == sum.GeneratedAt.Format(time.RFC3339Nano) {
			break
		}
		if attempt == 60 {
			t.Fatalf("never read the page and the summary at the same snapshot: page %s, summary %s", view.GeneratedAt, sum.GeneratedAt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := []string{"p-rate", "p-errors", "p-latency", "p-status", "p-endpoints"}; !slices.Equal(view.Panels, want) {
		t.Errorf("panels shown: %v, want %v", view.Panels, want)
	}
	tot := sum.Totals
	if tot.Requests < 60 || tot.Errors < 12 {
		t.Fatalf("summary totals %+v: the traffic is missing", tot)
	}
	for k, want := range map[string]string{
		"rate": jsRate(tot.RequestsPerSecond), "errors": jsPct(tot.ErrorRatio),
		"p50": jsMS(tot.P50), "p95": jsMS(tot.P95), "p99": jsMS(tot.P99),
	} {
		if view.Stats[k] != want {
			t.Errorf("total %s shown as %q, the summary holds %q", k, view.Stats[k], want)
		}
	}
	if view.Timeline != len(sum.Timeline) {
		t.Errorf("rate table has %d rows, the summary %d points", view.Timeline, len(sum.Timeline))
	}
	var statuses [][]string
	for _, s := range sum.Statuses {
		statuses = append(statuses, []string{s.Status, strconv.FormatUint(s.Requests, 10)})
	}
	var shownStatuses [][]string
	for _, r := range view.Statuses {
		shownStatuses = append(shownStatuses, r[:2])
	}
	if !slices.EqualFunc(shownStatuses, statuses, slices.Equal) {
		t.Errorf("status table %v, summary %v", shownStatuses, statuses)
	}
	for _, code := range []string{"200", "400", "404", "500"} {
		if !slices.ContainsFunc(statuses, func(r []string) bool { return r[0] == code }) {
			t.Errorf("status %s missing from %v", code, statuses)
		}
	}
	if len(view.Endpoints) != len(sum.Endpoints) {
		t.Fatalf("endpoints table has %d rows, the summary %d", len(view.Endpoints), len(sum.Endpoints))
	}
	for i, e := range sum.Endpoints {
		want := []string{e.Method, e.Handler, strconv.FormatUint(e.Requests, 10), jsRate(e.RequestsPerSecond), jsPct(e.ErrorRatio), jsMS(e.P99)}
		if !slices.Equal(view.Endpoints[i], want) {
			t.Errorf("endpoint row %d: %q, summary %q", i, view.Endpoints[i], want)
		}
	}

	if *dashboardScreenshot != "" {
		// Some seconds of steady traffic on the charts first.
		time.Sleep(8 * time.Second)
		png, err := page.Screenshot()
		if err == nil {
			png, err = browsertest.SmallPNG(png)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*dashboardScreenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sorting by handler, both ways, and filtering by handler.
	handlers := func() []string {
		var rows [][]string
		if err := page.Eval(`[...document.querySelectorAll('#endpoints tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent))`, &rows); err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r[1]
		}
		return out
	}
	if err := page.Click(`#endpoints th[data-key="handler"] button`); err != nil {
		t.Fatal(err)
	}
	if h := handlers(); !slices.IsSortedFunc(h, strings.Compare) || len(h) != len(sum.Endpoints) {
		t.Errorf("sorted by handler ascending: %v", h)
	}
	var ariaSort string
	_ = page.Eval(`document.querySelector('#endpoints th[data-key="handler"]').getAttribute('aria-sort')`, &ariaSort)
	if ariaSort != "ascending" {
		t.Errorf("aria-sort = %q after sorting by handler", ariaSort)
	}
	if err := page.Click(`#endpoints th[data-key="handler"] button`); err != nil {
		t.Fatal(err)
	}
	if h := handlers(); !slices.IsSortedFunc(h, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("sorted by handler descending: %v", h)
	}
	if err := page.Type("#filter", "TOOLS"); err != nil {
		t.Fatal(err)
	}
	if h := handlers(); len(h) == 0 || slices.ContainsFunc(h, func(s string) bool { return !strings.Contains(s, "tools") }) {
		t.Errorf("filtered by handler %q: %v", "TOOLS", h)
	}

	// The only errors allowed are the browser's own notes of the 401s
	// the wrong token and the first load drew.
	for _, p := range page.Problems() {
		if p.Source == "log/network" && strings.HasSuffix(p.URL, pathSummary) && strings.Contains(p.Text, "401") {
			continue
		}
		t.Errorf("browser reported %s", p)
	}
}

// TestDashboardManyRoutes measures how the page copes with 500 endpoints
// behind the proxy: first render, a filter and a sort. The times are
// reported, not held to a tight bound: the machine running the test sets
// them.
func TestDashboardManyRoutes(t *testing.T) {
	const routes = 500
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusBadGateway)
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	templates := make([]string, routes)
	for i := range templates {
		templates[i] = fmt.Sprintf("GET /svc%03d/items/{id}", i)
	}
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "UPSTREAM_URL": upstream.URL,
		"METRICS_ROUTES": strings.Join(templates, ","), "METRICS_DASHBOARD_INTERVAL": "1s",
	})
	client := &http.Client{}
	for i := range routes {
		for j := range 1 + i%3 {
			path := fmt.Sprintf("/svc%03d/items/%d", i, j)
			if j == 2 {
				path = fmt.Sprintf("/svc%03d/items/fail", i)
			}
			get(t, client, b.base+path, nil)
		}
	}
	time.Sleep(1500 * time.Millisecond)

	br := browsertest.Start(t)
	page := br.NewPage(1280, 1000)
	if err := page.Navigate(b.base + pathDashboard); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitFor(`document.body.dataset.state === "ready" && document.querySelectorAll('#endpoints tbody tr').length >= 500`, 20*time.Second); err != nil {
		t.Fatalf("500 endpoints not shown: %v", err)
	}
	var renderMS string
	_ = page.Eval(`document.getElementById('panels').dataset.renderMs`, &renderMS)
	var filterMS, sortMS float64
	if err := page.Eval(`(() => { const f = document.getElementById('filter'); const t0 = performance.now();
		f.value = 'svc42'; f.dispatchEvent(new Event('input')); return performance.now() - t0; })()`, &filterMS); err != nil {
		t.Fatal(err)
	}
	var shown int
	_ = page.Eval(`document.querySelectorAll('#endpoints tbody tr').length`, &shown)
	// /svc420/ to /svc429/ contain "svc42"; /svc042/ does not.
	if shown != 10 {
		t.Errorf("filter svc42 shows %d rows, want 10", shown)
	}
	if err := page.Eval(`(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input'));
		const t0 = performance.now(); document.querySelector('#endpoints th[data-key="p99_seconds"] button').click(); return performance.now() - t0; })()`, &sortMS); err != nil {
		t.Fatal(err)
	}
	t.Logf("500 endpoints: render %s ms, filter %.1f ms, sort %.1f ms", renderMS, filterMS, sortMS)
	if ms, _ := strconv.ParseFloat(renderMS, 64); ms > 5000 || filterMS > 5000 || sortMS > 5000 {
		t.Errorf("the page is unresponsive with 500 endpoints: render %s ms, filter %.0f ms, sort %.0f ms", renderMS, filterMS, sortMS)
	}
	for _, p := range page.Problems() {
		t.Errorf("browser reported %s", p)
	}
}

func TestJSFixed(t *testing.T) {
	for _, tc := range []struct {
		x      float64
		digits int
		want   string
	}{
		{3.125, 2, "3.13"}, {0.25, 1, "0.3"}, {0.35, 1, "0.3"}, {12.5, 0, "13"}, {0, 2, "0.00"},
		{0.005, 2, "0.01"}, {40.00499, 2, "40.00"}, {1234.5678, 1, "1234.6"}, {0.001, 2, "0.00"},
	} {
		if got := jsFixed(tc.x, tc.digits); got != tc.want {
			t.Errorf("jsFixed(%v, %d) = %q, want %q", tc.x, tc.digits, got, tc.want)
		}
	}
}
