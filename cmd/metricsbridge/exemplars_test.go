package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// A request that arrives with a sampled W3C trace becomes an exemplar with
// the caller's trace ID on http_request_duration_seconds_bucket, which a
// real Prometheus with exemplar storage returns from query_exemplars; an
// unsampled trace does not. In proxy mode the traceparent still reaches
// the upstream unchanged.
func TestExemplarsReachPrometheus(t *testing.T) {
	const (
		sampledTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		unsampledTrace = "0af7651916cd43dd8448eb211c80319c"
	)
	traceparent := func(traceID, flags string) string { return "00-" + traceID + "-00f067aa0ba902b7-" + flags }
	// Asked here, not only in the subtests, so that a missing Prometheus
	// skips the whole test rather than the subtests and leaves the
	// upstream check below without traffic.
	promtest.Tool(t, "prometheus")

	var mu sync.Mutex
	var seenUpstream []string
	up := newTestUpstream(t, map[string]http.HandlerFunc{"GET /items/{id}": func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenUpstream = append(seenUpstream, r.Header.Get("Traceparent"))
		mu.Unlock()
	}})
	for _, mode := range []struct {
		name, path, handler string
		vars                map[string]string
	}{
		{"demo", "/static/index.html", "/static/", nil},
		{"proxy", "/items/7", "/items/{id}", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_ROUTES": "GET /items/{id}"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			vars := map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"}
			for k, v := range mode.vars {
				vars[k] = v
			}
			b := startBridge(t, vars)
			target, err := url.Parse(b.metrics)
			if err != nil {
				t.Fatal(err)
			}
			prom := promtest.Start(t, fmt.Sprintf(`
global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: bridge
    metrics_path: %s
    static_configs:
      - targets: [%q]
`, target.Path, target.Host), "--enable-feature=exemplar-storage")

			for _, tp := range []string{traceparent(sampledTrace, "01"), traceparent(unsampledTrace, "00")} {
				req, _ := http.NewRequest(http.MethodGet, b.base+mode.path, nil)
				req.Header.Set("Traceparent", tp)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d", mode.path, resp.StatusCode)
				}
			}

			var got []promtest.Exemplar
			for deadline := time.Now().Add(20 * time.Second); ; {
				got, err = prom.Exemplars(`http_request_duration_seconds_bucket{handler="` + mode.handler + `"}`)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			found := false
			for _, e := range got {
				switch e.Labels["trace_id"] {
				case sampledTrace:
					found = true
					if e.Labels["span_id"] != "00f067aa0ba902b7" || e.Series["__name__"] != "http_request_duration_seconds_bucket" {
						t.Errorf("exemplar %+v", e)
					}
				case unsampledTrace:
					t.Errorf("exemplar of an unsampled trace: %+v", e)
				}
			}
			if !found {
				t.Fatalf("no exemplar with trace %s in %+v", sampledTrace, got)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{traceparent(sampledTrace, "01"), traceparent(unsampledTrace, "00")}; strings.Join(seenUpstream, ",") != strings.Join(want, ",") {
		t.Errorf("upstream saw traceparent %q, want %q", seenUpstream, want)
	}
}
