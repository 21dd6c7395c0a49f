package promexport_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// A route first requested after the scrape loop began: with
// created-timestamp-zero-ingestion Prometheus 3 puts a zero at the series'
// start, so increase() counts its first requests; without the flag, and
// on Prometheus 2, which ignore the start, nothing changes: the first
// value is the series' first sample and increase() starts from it.
func TestCreatedTimestampsPrometheus(t *testing.T) {
	const sent = 5
	for _, tc := range []struct {
		name     string
		legacy   bool
		flags    []string
		protocol string // scrape_protocols, if not the default; Prometheus 2.42 has none
		want     float64
	}{
		// The flag alone makes Prometheus 3 ask for protobuf first.
		{"prometheus 3 created-timestamp-zero-ingestion", false, []string{"--enable-feature=created-timestamp-zero-ingestion"}, "", sent},
		{"prometheus 3 protobuf without the flag", false, nil, "[PrometheusProto]", 0},
		{"prometheus 3 openmetrics", false, nil, "", 0},
		// native-histograms makes 2.42 ask for protobuf, which carries the
		// start it has no use for.
		{"prometheus 2 protobuf", true, []string{"--enable-feature=native-histograms"}, "", 0},
		{"prometheus 2 openmetrics", true, nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := enabled(t, func(cfg *otelmetrics.Config) {
				cfg.PrometheusNames = promexport.NamesBoth
			})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /early", func(http.ResponseWriter, *http.Request) {})
			mux.HandleFunc("GET /late", func(http.ResponseWriter, *http.Request) {})
			mux.Handle("GET /metrics/prometheus", p.MetricsHandler())
			srv := httptest.NewServer(p.Middleware(mux))
			t.Cleanup(srv.Close)
			get := func(path string) {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			for range 3 {
				get("/early")
			}

			protocols := ""
			if tc.protocol != "" {
				protocols = "\n    scrape_protocols: " + tc.protocol
			}
			config := fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: bridge
    metrics_path: /metrics/prometheus%s
    static_configs:
      - targets: [%q]
`, protocols, strings.TrimPrefix(srv.URL, "http://"))
			var prom *promtest.Server
			if tc.legacy {
				prom = promtest.StartBinary(t, promtest.Legacy(t, "prometheus"), config, tc.flags...)
			} else {
				prom = promtest.Start(t, config, tc.flags...)
			}
			// The scrape loop has begun: /early has two samples.
			prom.WaitFor(t, `count_over_time(http_requests_total{handler="/early"}[1m]) >= 2`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
			for range sent {
				get("/late")
			}

			for _, series := range []string{
				`http_requests_total{handler="/late"}`,
				`http_request_duration_seconds_count{handler="/late"}`,
				`http_server_request_duration_seconds_count{http_route="/late"}`,
			} {
				// Three samples: the zero and two of the value, or three of it.
				last := prom.WaitFor(t, `timestamp(`+series+`) and count_over_time(`+series+`[1m]) >= 3`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
				at := time.UnixMilli(int64(last[0].Value * 1000))
				got, err := prom.QueryAt(`increase(`+series+`[1m])`, at)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0].Value != tc.want {
					t.Errorf("increase(%s[1m]) = %v, want %v", series, got, tc.want)
				}
				total, err := prom.QueryAt(series, at)
				if err != nil || len(total) != 1 || total[0].Value != sent {
					t.Errorf("%s = %v (%v), want %d", series, total, err, sent)
				}
			}
			// A series that was already there keeps its start: no reset.
			for _, q := range []string{`resets(http_requests_total{handler="/early"}[1m])`, `http_requests_total{handler="/early"}`} {
				got, err := prom.Query(q)
				want := 0.0
				if !strings.HasPrefix(q, "resets") {
					want = 3
				}
				if err != nil || len(got) != 1 || got[0].Value != want {
					t.Errorf("%s = %v (%v), want %v", q, got, err, want)
				}
			}
			if n, err := prom.Query(`count({__name__=~".+_created"})`); err != nil || len(n) != 0 {
				t.Errorf("_created series stored: %v (%v)", n, err)
			}
		})
	}
}
