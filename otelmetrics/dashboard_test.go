package otelmetrics

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

// dashboardProvider is a provider whose snapshots run every interval from
// the start, as serve's do.
func dashboardProvider(t testing.TB, interval time.Duration) *Provider {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Dashboard.Interval, cfg.Dashboard.Window = interval, 100*interval
	p, err := NewProvider(cfg, WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	p.SummaryHandler() // starts the snapshots
	return p
}

func TestProviderSummary(t *testing.T) {
	p := dashboardProvider(t, 20*time.Millisecond)
	h := p.Middleware(testMux())
	time.Sleep(30 * time.Millisecond) // past the baseline
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/servers/7/sse", nil))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := httptest.NewRecorder()
		p.SummaryHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/summary", nil))
		var s dashboard.Summary
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Totals.Requests == 5 && len(s.Endpoints) == 1 && s.Endpoints[0].Handler == "/servers/{id}/sse" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("summary never showed the 5 requests: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	p.DashboardHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/dashboard", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("page: %d %v", rec.Code, rec.Header())
	}
	// Shutdown stops the snapshots; a second one is harmless.
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestProviderSummaryDisabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"metrics disabled", func(c *Config) { c.Enabled = false }},
		{"dashboard disabled", func(c *Config) { c.Dashboard.Enabled = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			p, err := NewProvider(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(t.Context())
			rec := httptest.NewRecorder()
			p.SummaryHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/summary", nil))
			if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != `{"error": "Metrics collection is disabled"}` {
				t.Errorf("disabled summary: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

// ConfigFromEnv reads the dashboard's variables into Config.Dashboard, and
// NewProvider refuses a ring the dashboard cannot keep.
func TestProviderDashboardConfig(t *testing.T) {
	cfg, err := ConfigFromEnv(env.Map(map[string]string{"METRICS_DASHBOARD_INTERVAL": "1s", "METRICS_DASHBOARD_WINDOW": "1m"}))
	if err != nil || cfg.Dashboard != (dashboard.Config{Enabled: true, Interval: time.Second, Window: time.Minute}) {
		t.Errorf("ConfigFromEnv: %+v, %v", cfg.Dashboard, err)
	}
	if _, err := ConfigFromEnv(env.Map(map[string]string{"METRICS_DASHBOARD_INTERVAL": "5"})); !errors.Is(err, ErrConfig) {
		t.Errorf("ConfigFromEnv with a bad interval: %v", err)
	}
	cfg = DefaultConfig()
	cfg.Dashboard.Interval, cfg.Dashboard.Window = time.Hour, time.Minute
	if _, err := NewProvider(cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("a window shorter than the interval: %v", err)
	}
}

// BenchmarkMiddlewareDashboard times the middleware without and with the
// dashboard's snapshots running (every 100 ms, 50 times the default rate),
// in alternation so that both see the same machine, and reports the ratio
// and the allocations the dashboard adds to a request (none expected: the
// snapshots read the SDK's aggregates off the request path).
func BenchmarkMiddlewareDashboard(b *testing.B) {
	mux := testMux()
	plain := newTestProvider(b, nil).Middleware(mux)
	withDash := dashboardProvider(b, 100*time.Millisecond).Middleware(mux)
	const batch = 256
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/servers/7/sse", nil)
	var spent [2]time.Duration
	for b.Loop() {
		for i, h := range []http.Handler{plain, withDash} {
			start := time.Now()
			for range batch {
				h.ServeHTTP(w, r)
			}
			spent[i] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "dashboard/plain")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N*batch), "ns/req-dashboard")
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N*batch), "ns/req-plain")
	b.ReportMetric(testing.AllocsPerRun(100, func() { withDash.ServeHTTP(w, r) })-testing.AllocsPerRun(100, func() { plain.ServeHTTP(w, r) }), "dashboard-added-allocs")
}
