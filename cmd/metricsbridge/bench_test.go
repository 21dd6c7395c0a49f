package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkProxy compares requests per second through `serve --upstream`
// (auth-free scrape endpoint, route matching, the middleware, timeouts)
// with a bare httputil.ReverseProxy in front of the same upstream. Both
// proxies use the same upstream connection pool settings, so the
// difference is what the bridge adds.
func BenchmarkProxy(b *testing.B) {
	body := strings.Repeat("x", 512)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	b.Cleanup(upstream.Close)
	target, _ := url.Parse(upstream.URL)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 512
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: tr,
	})
	b.Cleanup(bare.Close)
	b.Cleanup(tr.CloseIdleConnections)

	bridge := startBridge(b, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"UPSTREAM_URL": upstream.URL, "METRICS_ROUTES": "GET /items/{id},POST /items",
	})

	for _, bc := range []struct{ name, base string }{{"bare", bare.URL}, {"bridge", bridge.base}} {
		b.Run(bc.name, func(b *testing.B) {
			ctr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512}
			defer ctr.CloseIdleConnections()
			client := &http.Client{Transport: ctr}
			u := bc.base + "/items/42"
			b.SetParallelism(16) // 16 clients per CPU
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(u)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || n != int64(len(body)) {
						b.Errorf("%d, %d bytes", resp.StatusCode, n)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
