package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// The OpenTelemetry Collector's prometheus receiver (the scrape path of
// Splunk's Collector, ADOT and Alloy) scrapes the endpoint with a bearer
// token from a file and forwards over OTLP what it scraped: per status, the
// totals that arrive equal the requests sent. With a wrong token the scrape
// fails, up = 0, and no request series arrives at all.
func TestCollectorScrapesWithToken(t *testing.T) {
	vars := map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "true", "JWT_SECRET_KEY": testSecret}
	base, _ := startServe(t, vars)
	target := strings.TrimPrefix(base, "http://")
	dir := t.TempDir()
	tokens := map[string]string{
		"good":  createToken(t, vars, "--username", "otel-collector@monitoring", "--exp", "0"),
		"wrong": createToken(t, map[string]string{"JWT_SECRET_KEY": "another-secret-another-secret-!!"}, "--username", "otel-collector@monitoring"),
	}
	for name, tok := range tokens {
		if err := os.WriteFile(filepath.Join(dir, name+".jwt"), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	const n = 30
	want := map[string]float64{"200": 0, "500": 0}
	for i := range n {
		if i%3 == 0 {
			post(t, base+"/tools/invoke", `{"tool":"fail"}`, 500)
			want["500"]++
			continue
		}
		post(t, base+"/tools/invoke", `{"tool":"echo"}`, 200)
		want["200"]++
	}

	t.Run("token", func(t *testing.T) {
		sink := otlptest.NewSink(t, false)
		col := otlptest.StartScrapingCollector(t, sink, target, filepath.Join(dir, "good.jwt"))
		var got map[string]float64
		deadline := time.Now().Add(60 * time.Second)
		for {
			got = invokeTotals(sink)
			if got["200"] == want["200"] && got["500"] == want["500"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("totals by status %v, want %v; metrics that arrived %v\n%s", got, want, sink.Names(), col.Logs())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, v := range sink.Latest("up") {
			if v != 1 {
				t.Errorf("up = %v with a valid token", v)
			}
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		sink := otlptest.NewSink(t, false)
		col := otlptest.StartScrapingCollector(t, sink, target, filepath.Join(dir, "wrong.jwt"))
		// Three failed scrapes, each reported as up = 0.
		deadline := time.Now().Add(60 * time.Second)
		for {
			ups := sink.Values("up")
			for _, v := range ups {
				if v != 0 {
					t.Fatalf("up = %v with a wrong token", v)
				}
			}
			if len(ups) >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed scrapes reported; metrics that arrived %v\n%s", sink.Names(), col.Logs())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, name := range sink.Names() {
			if strings.HasPrefix(name, "http_") || strings.HasPrefix(name, "app_info") {
				t.Errorf("%s arrived although every scrape was refused", name)
			}
		}
	})
}

// invokeTotals is http_requests_total of POST /tools/invoke by status, as
// the receiver forwards it: named http_requests_total, or http_requests
// where the receiver trims the counter suffix.
func invokeTotals(sink *otlptest.Sink) map[string]float64 {
	out := map[string]float64{}
	for _, name := range []string{"http_requests_total", "http_requests"} {
		for attrs, v := range sink.Latest(name) {
			if !strings.Contains(attrs, "handler:/tools/invoke") || !strings.Contains(attrs, "method:POST") {
				continue
			}
			for _, s := range []string{"200", "500"} {
				if strings.Contains(attrs, "status:"+s) {
					out[s] = v
				}
			}
		}
	}
	return out
}
