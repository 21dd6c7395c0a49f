package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

func TestDashboardSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		code int
		want string
	}{
		{"defaults", nil, 0, "METRICS_DASHBOARD=true\nMETRICS_DASHBOARD_INTERVAL=5s\nMETRICS_DASHBOARD_WINDOW=15m0s\n"},
		{"off", map[string]string{"METRICS_DASHBOARD": "false"}, 0, "METRICS_DASHBOARD=false\n"},
		{"shaped", map[string]string{"METRICS_DASHBOARD_INTERVAL": "10s", "METRICS_DASHBOARD_WINDOW": "1h"}, 0, "METRICS_DASHBOARD_INTERVAL=10s\nMETRICS_DASHBOARD_WINDOW=1h0m0s\n"},
		{"bad switch", map[string]string{"METRICS_DASHBOARD": "maybe"}, 2, `invalid METRICS_DASHBOARD="maybe"`},
		{"bad interval", map[string]string{"METRICS_DASHBOARD_INTERVAL": "0s"}, 2, `invalid METRICS_DASHBOARD_INTERVAL="0s": want a duration from 100ms to 1h0m0s`},
		{"window too long", map[string]string{"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": "2h"}, 2, `invalid METRICS_DASHBOARD_WINDOW="2h"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"check"}, strings.NewReader(""), &stdout, &stderr, env.Map(tc.vars))
			out := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("check: exit %d, want %d, output lacks %q:\n%s", code, tc.code, tc.want, out)
			}
			if tc.code == 2 {
				var serveErr bytes.Buffer
				if code := run(t.Context(), []string{"serve"}, strings.NewReader(""), io.Discard, &serveErr, env.Map(tc.vars)); code != 2 || !strings.Contains(serveErr.String(), tc.want) {
					t.Errorf("serve: exit %d: %s", code, serveErr.String())
				}
			}
		})
	}
}

// The summary has the scrape endpoint's protection: the bearer check, then
// 503 with the gateway's body when metrics are disabled. The page is a
// static shell without data, so a browser can load it and ask for a token.
func TestDashboardProtection(t *testing.T) {
	tok, err := auth.Mint(auth.MintOptions{Username: "dashboard@test", Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	type probe struct {
		path   string
		header http.Header
		status int
		body   string
	}
	for _, tc := range []struct {
		name   string
		vars   map[string]string
		probes []probe
	}{
		{"enabled with a key", map[string]string{"ENABLE_METRICS": "true", "JWT_SECRET_KEY": testSecret}, []probe{
			{pathSummary, nil, 401, `"error":"unauthorized"`},
			{pathSummary, http.Header{"Authorization": {"Bearer " + tok + "x"}}, 401, `signature does not verify`},
			{pathSummary, bearer, 200, `"histogram":"classic"`},
			{pathDashboard, nil, 200, `<script src="dashboard/dashboard.js" defer></script>`},
			{pathDashboard + "/dashboard.js", nil, 200, `sessionStorage`},
		}},
		{"disabled with a key: token first", map[string]string{"JWT_SECRET_KEY": testSecret}, []probe{
			{pathSummary, nil, 401, `"error":"unauthorized"`},
			{pathSummary, bearer, 503, `{"error": "Metrics collection is disabled"}`},
			{pathDashboard, nil, 200, `<main id="panels" hidden>`},
		}},
		{"disabled without a key", nil, []probe{
			{pathSummary, nil, 503, `{"error": "Metrics collection is disabled"}`},
		}},
		{"AUTH_REQUIRED=false", map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"}, []probe{
			{pathSummary, nil, 200, `"window_seconds":900`},
		}},
		{"METRICS_DASHBOARD=false", map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "METRICS_DASHBOARD": "false"}, []probe{
			{pathSummary, nil, 404, ``},
			{pathDashboard, nil, 404, ``},
			{pathMetrics, nil, 200, `http_requests_total`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBridge(t, tc.vars)
			// A request first, so the scrape has a series to show.
			mustGet(t, b.base+"/nowhere", nil)
			for _, p := range tc.probes {
				code, body := get(t, http.DefaultClient, b.base+p.path, p.header)
				if code != p.status || !strings.Contains(body, p.body) {
					t.Errorf("GET %s: %d %.200s, want %d with %q", p.path, code, body, p.status, p.body)
				}
			}
		})
	}
}

// In proxy mode the dashboard's paths are the bridge's, on or off; a path
// that merely starts the same way is the upstream's.
func TestDashboardPathsNotForwarded(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(upstream.Close)
	for _, on := range []string{"true", "false"} {
		t.Run("METRICS_DASHBOARD="+on, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "UPSTREAM_URL": upstream.URL, "METRICS_DASHBOARD": on})
			for _, path := range []string{pathSummary, pathDashboard, pathDashboard + "/dashboard.js", pathDashboard + "/unknown"} {
				code, body := get(t, http.DefaultClient, b.base+path, nil)
				if body == "upstream" {
					t.Errorf("GET %s was forwarded (%d)", path, code)
				}
			}
			code, body := get(t, http.DefaultClient, b.base+"/metrics/dashboards", nil)
			if code != 200 || body != "upstream" {
				t.Errorf("GET /metrics/dashboards: %d %q, want the upstream's answer", code, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0] != "/metrics/dashboards" {
				t.Errorf("upstream saw %v", seen)
			}
		})
	}
}
