package otelmetrics

import (
	"net/http"
	"strings"
	"testing"
)

// A nil logger, reader or resource keeps the default, so a caller passing
// a value it did not check (an optional reader, a resource that failed to
// build) gets a working provider, and the warnings still have somewhere
// to go.
func TestNilOptionsKeepTheDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"WithLogger", WithLogger(nil)},
		{"WithReader", WithReader(nil)},
		{"WithResource", WithResource(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CustomLabels = []Label{{"env", "test"}} // merged into the resource
			p, err := NewProvider(cfg, WithVersion("test"), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			// Requests a handler answers with no route log the unrouted
			// warning once enough of them arrive.
			h := p.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			for range unroutedWarnAfter {
				if code := do(h, http.MethodGet, "/x"); code != http.StatusOK {
					t.Fatalf("status %d", code)
				}
			}
			if text := scrape(t, p); !strings.Contains(text, "metricsbridge_unrouted_requests_total 10") ||
				!strings.Contains(text, `http_requests_total{handler="none",method="GET",status="200"} 10`) {
				t.Errorf("scrape:\n%s", text)
			}
			if err := p.ForceFlush(t.Context()); err != nil {
				t.Error(err)
			}
			if err := p.Shutdown(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
}
