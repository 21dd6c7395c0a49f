package promexport_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// Prometheus 3 started with --enable-feature=zstd-scrape asks for
// "zstd,gzip", gets zstd, and reads the series from it: the target is up
// and the counter and the histogram have their values.
func TestPrometheus3ScrapesZstd(t *testing.T) {
	metrics := endpoint(t)
	var mu sync.Mutex
	seen := map[string]int{} // "Accept-Encoding -> Content-Encoding" per scrape
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.ServeHTTP(w, r)
		mu.Lock()
		seen[r.Header.Get("Accept-Encoding")+" -> "+w.Header().Get("Content-Encoding")]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	prom := promtest.Start(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: bridge
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(srv.URL, "http://")), "--enable-feature=zstd-scrape")

	prom.WaitFor(t, `up{job="bridge"} == 1`, 30*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
	prom.WaitFor(t, `http_requests_total{job="bridge",handler="/tools/invoke",method="POST",status="200"}`, 30*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })
	prom.WaitFor(t, `http_request_duration_seconds_count{job="bridge",handler="/tools/invoke",method="POST"}`, 10*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%s; scrapes: %v", promtest.Version(t, promtest.Tool(t, "prometheus")), seen)
	for k, n := range seen {
		if k != "zstd,gzip -> zstd" {
			t.Errorf("%d scrapes %s; want every one zstd,gzip -> zstd", n, k)
		}
	}
	if len(seen) == 0 {
		t.Error("no scrape reached the endpoint")
	}
}
