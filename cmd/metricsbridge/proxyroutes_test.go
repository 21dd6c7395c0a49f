package main

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"
)

// A template ServeMux would read as a host pattern or with a method no
// client sends is refused at start, exit 2 naming the value; real host
// patterns still pass.
func TestRouteTemplateTypos(t *testing.T) {
	up := map[string]string{"UPSTREAM_URL": "http://127.0.0.1:8080"}
	for _, tc := range []struct {
		name   string
		routes string
		flag   bool
		want   string // "" : accepted
	}{
		{"no leading slash", "api/v1/users/{id}", false,
			`invalid METRICS_ROUTES="api/v1/users/{id}": route "api/v1/users/{id}": a template starts with / (after an optional method); without it "api" is read as a host name and the template matches only requests for that host; did you mean "/api/v1/users/{id}"?`},
		{"no leading slash after a method", "POST /tools/invoke,GET servers/{id}/sse", false,
			`route "GET servers/{id}/sse": a template starts with / (after an optional method); without it "servers" is read as a host name and the template matches only requests for that host; did you mean "GET /servers/{id}/sse"?`},
		{"by the flag", "api/users", true, `invalid --routes="api/users": route "api/users"`},
		{"lower-case method", "get /users", false, `route "get /users": HTTP methods are case-sensitive, so get matches no request; want GET`},
		{"host pattern", "api.example.com/users/{id}", false, ""},
		{"host with port", "localhost:8080/users", false, ""},
		{"localhost", "GET localhost/users", false, ""},
		{"extension method", "PROPFIND /dav/{path...}", false, ""},
		{"plain", "GET /users/{id},/static/", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"METRICS_ROUTES": tc.routes}
			args := []string{"check"}
			if tc.flag {
				vars = map[string]string{}
				args = append(args, "--routes", tc.routes)
			}
			for k, v := range up {
				vars[k] = v
			}
			code, _, errOut := cli(t, vars, "", args...)
			switch {
			case tc.want == "" && code != 0:
				t.Errorf("refused: exit %d %s", code, errOut)
			case tc.want != "" && (code != exitConfig || !strings.Contains(errOut, tc.want)):
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// The threshold of the proxy's "nearly everything is none" warning: after
// 100 requests, at most 1% matched a template; counted until it warns or
// 10,000 requests have passed.
func TestUnroutedHintThreshold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		on       bool
		requests int
		matchOne int // every matchOne-th request matches; 0: none does
		warn     bool
	}{
		{"none matches, 99 requests: too early to tell", true, 99, 0, false},
		{"none matches, 100 requests", true, 100, 0, true},
		{"1 in 100 matches", true, 100, 100, true},
		{"1 in 50 matches", true, 1000, 50, false},
		{"every request matches", true, 1000, 1, false},
		{"no templates configured", false, 1000, 0, false},
		{"templates that worked for 10,000 requests, then none", true, 20_000, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logbuf.Buffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			h := unroutedHint{on: tc.on}
			for i := 1; i <= tc.requests; i++ {
				matched := tc.matchOne > 0 && i%tc.matchOne == 0
				if tc.name == "templates that worked for 10,000 requests, then none" {
					matched = i <= unroutedHintStopAfter && i%2 == 0
				}
				h.observe(matched, logger, "1 from METRICS_ROUTES")
			}
			if n := strings.Count(logs.String(), "nearly every proxied request matched no route template"); n != map[bool]int{true: 1, false: 0}[tc.warn] {
				t.Errorf("%d warnings:\n%s", n, logs)
			}
		})
	}
}

// Through the proxy: templates that miss the paths clients send (a
// missing /api prefix) give one warning, however long the traffic lasts.
func TestProxyWarnsWhenNearlyEverythingIsNone(t *testing.T) {
	up := newTestUpstream(t, map[string]http.HandlerFunc{"GET /api/v1/users/{id}": func(w http.ResponseWriter, _ *http.Request) {}})
	b := startBridge(t, map[string]string{"UPSTREAM_URL": up.URL, "METRICS_ROUTES": "GET /v1/users/{id}"})
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for i := range 3 * unroutedHintEvery {
		if code, _ := get(t, client, b.base+"/api/v1/users/"+itoa(i), nil); code != http.StatusOK {
			t.Fatalf("GET: %d", code)
		}
	}
	log := b.stderr.String()
	if n := strings.Count(log, "nearly every proxied request matched no route template"); n != 1 || !strings.Contains(log, `requests=100 matched=0 templates="1 from METRICS_ROUTES"`) {
		t.Errorf("%d warnings, want 1 after 100 requests:\n%s", n, log)
	}
}

// The hint adds no allocation to a proxied request.
func TestUnroutedHintAllocs(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	h := unroutedHint{on: true}
	if n := testing.AllocsPerRun(1000, func() { h.observe(true, logger, "") }); n != 0 {
		t.Errorf("observe allocates %v times", n)
	}
}

// BenchmarkUnroutedHint prices the hint per request while it counts
// (two atomic adds) against after it stopped (one atomic load), side by
// side, in parallel as requests arrive.
func BenchmarkUnroutedHint(b *testing.B) {
	logger := slog.New(slog.DiscardHandler)
	for _, bc := range []struct {
		name string
		done bool
	}{{"counting", false}, {"stopped", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h := unroutedHint{on: true}
			h.done.Store(bc.done)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.observe(true, logger, "")
				}
			})
		})
	}
}
