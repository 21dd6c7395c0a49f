package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
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

// BenchmarkThroughput serves the same load through the same program with
// metrics on and with metrics off (ENABLE_METRICS=true and false), the
// demo gateway and the proxy, and reports the requests per second of each
// and their ratio, which is what the metrics cost a service end to end.
// The two take turns, one round of requests each per iteration, so both
// see the same machine; on/off is the ratio of all the rounds' requests
// per second, on/off-median the median of the rounds' ratios. With
// metrics on, http_requests_total must equal what the clients received,
// series by series.
func BenchmarkThroughput(b *testing.B) {
	const (
		perRound = 1000
		clients  = 32
	)
	for _, mode := range []string{"demo", "proxy"} {
		b.Run(mode, func(b *testing.B) {
			vars := map[string]string{
				"AUTH_REQUIRED": "false",
				// So that http_requests_total is the load alone.
				"METRICS_EXCLUDED_HANDLERS": "/metrics/prometheus",
			}
			mix := demoMix
			if mode == "proxy" {
				vars["UPSTREAM_URL"] = proxyUpstream(b).URL
				vars["METRICS_ROUTES"] = proxyRoutes
				mix = proxyMix
			}
			on, off := maps.Clone(vars), maps.Clone(vars)
			on["ENABLE_METRICS"], off["ENABLE_METRICS"] = "true", "false"
			bridges := [2]*bridge{startBridge(b, on), startBridge(b, off)}

			tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()

			sent := map[string]int{}
			var spent [2]time.Duration
			var ratios []float64
			round := 0
			for _, br := range bridges { // connections and series made
				runLoad(ctx, client, 500, clients, mix(br.base))
			}
			warm := requestCounts(b, client, bridges[0].metrics, "")
			for b.Loop() {
				var took [2]time.Duration
				// Who goes first alternates, so neither always follows the
				// other's garbage.
				for j := range 2 {
					i := (j + round) % 2
					start := time.Now()
					load := runLoad(ctx, client, perRound, clients, func(k int) request {
						return mix(bridges[i].base)(round*perRound + k)
					})
					took[i] = time.Since(start)
					if load.errors != 0 || load.total() != perRound {
						b.Fatalf("%d of %d requests failed", load.errors, perRound)
					}
					if i == 0 {
						for k, v := range load.counts {
							sent[k] += v
						}
					}
				}
				spent[0] += took[0]
				spent[1] += took[1]
				ratios = append(ratios, took[1].Seconds()/took[0].Seconds())
				round++
			}
			if ctx.Err() != nil {
				b.Fatal("the load did not finish in time")
			}
			got := requestCounts(b, client, bridges[0].metrics, "")
			for k, v := range warm {
				got[k] -= v
				if got[k] == 0 {
					delete(got, k)
				}
			}
			if !maps.Equal(got, sent) {
				b.Errorf("http_requests_total grew by %v\nclients received %v", got, sent)
			}
			slices.Sort(ratios)
			n := float64(round * perRound)
			b.ReportMetric(n/spent[0].Seconds(), "on-req/s")
			b.ReportMetric(n/spent[1].Seconds(), "off-req/s")
			b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "on/off")
			b.ReportMetric(ratios[len(ratios)/2], "on/off-median")
		})
	}
}
