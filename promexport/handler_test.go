package promexport_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// endpoint returns a metrics handler with a little traffic recorded.
func endpoint(t *testing.T) http.Handler {
	t.Helper()
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	cfg.CustomLabels = []otelmetrics.Label{{Key: "env", Value: "test"}}
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithVersion("1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/invoke", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /servers/{id}/sse", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	h := p.Middleware(mux)
	for _, r := range []*http.Request{
		httptest.NewRequest("POST", "/tools/invoke", nil),
		httptest.NewRequest("GET", "/servers/1/sse", nil),
		httptest.NewRequest("GET", "/missing", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	return p.MetricsHandler()
}

func get(h http.Handler, header map[string]string) *http.Response {
	r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func TestNegotiation(t *testing.T) {
	h := endpoint(t)
	for _, tc := range []struct {
		name                   string
		header                 map[string]string
		wantEncoding, wantType string
	}{
		{"plain", nil, "", "text/plain; version=0.0.4"},
		{"gzip", map[string]string{"Accept-Encoding": "gzip"}, "gzip", "text/plain; version=0.0.4"},
		{"gzip among others", map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.8, deflate"}, "gzip", "text/plain"},
		{"gzip refused", map[string]string{"Accept-Encoding": "gzip;q=0"}, "", "text/plain"},
		{"unknown encoding", map[string]string{"Accept-Encoding": "x-snappy-framed"}, "", "text/plain"},
		{"openmetrics", map[string]string{"Accept": "application/openmetrics-text;version=1.0.0"}, "", "application/openmetrics-text; version=1.0.0"},
		{"prometheus scraper", map[string]string{
			"Accept":          "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			"Accept-Encoding": "gzip",
		}, "gzip", "application/openmetrics-text; version=1.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(h, tc.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tc.wantType) {
				t.Errorf("Content-Type %q, want prefix %q", got, tc.wantType)
			}
			body := resp.Body
			if tc.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			text, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(text), `http_requests_total{handler="/tools/invoke",method="POST",status="200"} 1`) {
				t.Errorf("body lacks the counter:\n%s", text)
			}
			if strings.HasPrefix(tc.wantType, "application/openmetrics-text") && !strings.HasSuffix(string(text), "# EOF\n") {
				t.Errorf("OpenMetrics body does not end with # EOF")
			}
		})
	}
}

// promtool, the reference linter, accepts what the endpoint serves:
// Prometheus 3's and Debian's Prometheus 2's.
func TestPromtoolCheckMetrics(t *testing.T) {
	resp := get(endpoint(t), nil)
	text, _ := io.ReadAll(resp.Body)
	promtest.CheckMetrics(t, text)
	promtest.CheckMetricsWith(t, promtest.Legacy(t, "promtool"), text)
}

// The Python gateway's 503, to the byte.
func TestDisabled(t *testing.T) {
	resp := get(promexport.Disabled(), nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != `{"error": "Metrics collection is disabled"}` {
		t.Errorf("body %q", body)
	}
	var v map[string]string
	if err := json.Unmarshal(body, &v); err != nil || v["error"] != "Metrics collection is disabled" {
		t.Errorf("body is not the JSON it should be: %v %v", v, err)
	}
}

func ExampleDisabled() {
	rec := httptest.NewRecorder()
	promexport.Disabled().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 503 {"error": "Metrics collection is disabled"}
}

// Scrapes in every format at once, while requests are recorded, share
// collections and still each get a complete, valid exposition.
func TestConcurrentScrapesInEveryFormat(t *testing.T) {
	p := enabled(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(http.ResponseWriter, *http.Request) {})
	h := p.Middleware(mux)
	// One request before any scrape, so every exposition has the series.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/0", nil))
	stop := make(chan struct{})
	var recorded sync.WaitGroup
	recorded.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/items/%d", i), nil))
			}
		}
	})
	headers := []map[string]string{
		nil,
		{"Accept": "application/openmetrics-text;version=1.0.0"},
		{"Accept-Encoding": "gzip"},
		{"Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"},
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 5 {
				resp := get(p.MetricsHandler(), headers[i%len(headers)])
				body := resp.Body
				if resp.Header.Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(resp.Body)
					if err != nil {
						t.Error(err)
						return
					}
					body = zr
				}
				b, _ := io.ReadAll(body)
				if resp.StatusCode != 200 || !strings.Contains(string(b), "http_requests_total{") {
					t.Errorf("%v: %d\n%s", headers[i%len(headers)], resp.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	recorded.Wait()
}
