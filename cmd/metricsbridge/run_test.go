package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

var (
	gatewayRE = regexp.MustCompile(`gateway=(https?://\S+)`)
	metricsRE = regexp.MustCompile(`metrics=(https?://\S+)`)
)

// bridge is `metricsbridge serve` running in-process.
type bridge struct {
	base    string // the main listener's URL
	metrics string // the scrape endpoint's URL
	stderr  *logbuf.Buffer
	cancel  context.CancelFunc
	exit    chan int
}

// startBridge runs `metricsbridge serve args...` in-process on a free port
// and waits for its start-up line; the server is stopped (as by SIGTERM)
// at cleanup and must exit 0.
func startBridge(t testing.TB, vars map[string]string, args ...string) *bridge {
	t.Helper()
	m := map[string]string{"PORT": "0"}
	for k, v := range vars {
		m[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bridge{stderr: &logbuf.Buffer{}, cancel: cancel, exit: make(chan int, 1)}
	go func() {
		b.exit <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), io.Discard, b.stderr, env.Map(m))
	}()
	t.Cleanup(func() {
		if code := b.stop(t); code > 0 {
			t.Errorf("serve exited %d:\n%s", code, b.stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out := b.stderr.String()
		if m := gatewayRE.FindStringSubmatch(out); m != nil {
			b.base = m[1]
			b.metrics = metricsRE.FindStringSubmatch(out)[1]
			return b
		}
		select {
		case code := <-b.exit:
			t.Fatalf("serve exited %d:\n%s", code, b.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no start-up line:\n%s", b.stderr)
	return nil
}

// stop delivers what SIGTERM would and returns the exit status; a second
// call returns -1 at once.
func (b *bridge) stop(t testing.TB) int {
	t.Helper()
	b.cancel()
	select {
	case code, ok := <-b.exit:
		if !ok {
			return -1
		}
		close(b.exit)
		return code
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not stop:\n%s", b.stderr)
		return -1
	}
}

// startServe is startBridge for the tests that need only the base URL and
// the log.
func startServe(t *testing.T, vars map[string]string) (string, *logbuf.Buffer) {
	t.Helper()
	b := startBridge(t, vars)
	return b.base, b.stderr
}

func TestBadConfigurationExits2(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"regexp", map[string]string{"METRICS_EXCLUDED_HANDLERS": "/a/(b"}, `invalid METRICS_EXCLUDED_HANDLERS="/a/(b"`},
		{"labels", map[string]string{"METRICS_CUSTOM_LABELS": "env"}, `invalid METRICS_CUSTOM_LABELS="env"`},
		{"buckets", map[string]string{"METRICS_LATENCY_BUCKETS": "1,0.5"}, `invalid METRICS_LATENCY_BUCKETS="1,0.5"`},
		{"bool", map[string]string{"AUTH_REQUIRED": "sometimes"}, `invalid AUTH_REQUIRED="sometimes"`},
		{"port", map[string]string{"PORT": "http"}, `invalid PORT="http"`},
		{"names", map[string]string{"METRICS_PROMETHEUS_NAMES": "otel"}, `invalid METRICS_PROMETHEUS_NAMES="otel": want instrumentator, semconv or both`},
		{"exemplars", map[string]string{"METRICS_EXEMPLARS": "maybe"}, `invalid METRICS_EXEMPLARS="maybe"`},
		{"histograms", map[string]string{"METRICS_HISTOGRAMS": "exponential"}, `invalid METRICS_HISTOGRAMS="exponential": want classic or native`},
		{"histograms both", map[string]string{"METRICS_HISTOGRAMS": "both"}, `invalid METRICS_HISTOGRAMS="both": want classic or native; both is not offered`},
		{"native buckets", map[string]string{"METRICS_NATIVE_MAX_BUCKETS": "4"}, `invalid METRICS_NATIVE_MAX_BUCKETS="4": want an integer from 8 to 4096`},
		{"prefix the exporter would rewrite", map[string]string{"METRICS_NAMESPACE": "a__b"}, `invalid METRICS_NAMESPACE="a__b"`},
		{"metrics on, auth on, no key", map[string]string{"ENABLE_METRICS": "true"}, `invalid ENABLE_METRICS="true": scrapes need a bearer token (AUTH_REQUIRED defaults to true) and no key is set to verify one: set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE (HS256/384/512), or JWT_PUBLIC_KEY_PATH with JWT_ALGORITHM`},
		{"algorithm", map[string]string{"JWT_ALGORITHM": "HS257"}, `invalid JWT_ALGORITHM="HS257": want one of HS256`},
		{"key file", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": "/nonexistent.pem"}, `invalid JWT_PUBLIC_KEY_PATH="/nonexistent.pem": cannot read the key file`},
		{"secret for RS", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_SECRET_KEY": "hunter2"}, `invalid JWT_SECRET_KEY=(hidden)`},
		{"short secret", map[string]string{"ENABLE_METRICS": "true", "JWT_SECRET_KEY": "hunter2"}, `invalid JWT_SECRET_KEY=(hidden): 7 bytes; HS256 needs at least 32 (RFC 7518 §3.2)`},
		{"short secret, metrics off", map[string]string{"JWT_ALGORITHM": "HS512", "JWT_SECRET_KEY": testSecret}, `invalid JWT_SECRET_KEY=(hidden): 32 bytes; HS512 needs at least 64`},
		{"max token age", map[string]string{"JWT_MAX_TOKEN_AGE": "forever"}, `invalid JWT_MAX_TOKEN_AGE="forever"`},
		{"otlp credentials in cleartext", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "nr-secret-key", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://203.0.113.9:4318"},
			`invalid OTEL_EXPORTER_OTLP_ENDPOINT="http://203.0.113.9:4318": NEW_RELIC_LICENSE_KEY would be sent in cleartext`},
		{"otlp URL credentials", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:pa55@otel.example.com"}, `invalid OTEL_EXPORTER_OTLP_ENDPOINT="https://xxxxx@otel.example.com": credentials in the URL`},
		{"otlp header control character", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-a=b%0Ac"}, `invalid OTEL_EXPORTER_OTLP_HEADERS=(hidden): the value of x-a contains a control character`},
		{"splunk bucket limit", map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "t",
			"METRICS_LATENCY_BUCKETS": "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,2,2.1,2.2,2.3,2.4,2.5,2.6,2.7,2.8,2.9,3,3.1"},
			`invalid METRICS_LATENCY_BUCKETS="0.1,0.2,`},
		{"splunk native histograms", map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "t", "METRICS_HISTOGRAMS": "native"},
			`invalid METRICS_HISTOGRAMS="native": METRICS_OTLP_VENDOR=splunk takes explicit-bucket histograms only (METRICS_HISTOGRAMS=classic)`},
		{"splunk exponential aggregation", map[string]string{"METRICS_OTLP_VENDOR": "splunk", "SPLUNK_REALM": "us1", "SPLUNK_ACCESS_TOKEN": "t",
			"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram"},
			`invalid OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION="base2_exponential_bucket_histogram": METRICS_OTLP_VENDOR=splunk takes explicit-bucket histograms only`},
		{"aggregations that disagree", map[string]string{"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "METRICS_HISTOGRAMS": "classic",
			"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram"},
			`invalid OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION="base2_exponential_bucket_histogram": METRICS_HISTOGRAMS=classic asks for the other aggregation`},
		{"datadog site", map[string]string{"METRICS_OTLP_VENDOR": "datadog", "DD_API_KEY": "k", "DD_SITE": "ddog-gov.com"}, `invalid DD_SITE="ddog-gov.com"`},
		{"otlp CA file", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
			`invalid OTEL_EXPORTER_OTLP_CERTIFICATE="/nonexistent/ca.pem": cannot read the CA certificate file`},
		{"upstream scheme", map[string]string{"UPSTREAM_URL": "ftp://example.com"}, `invalid UPSTREAM_URL="ftp://example.com": want an http:// or https:// URL`},
		{"upstream without host", map[string]string{"UPSTREAM_URL": "http://"}, `invalid UPSTREAM_URL="http://": the URL has no host`},
		{"upstream credentials", map[string]string{"UPSTREAM_URL": "http://admin:hunter2@example.com"}, `invalid UPSTREAM_URL="http://admin:xxxxx@example.com": credentials`},
		{"route syntax", map[string]string{"UPSTREAM_URL": "http://127.0.0.1:8080", "METRICS_ROUTES": "/servers/{id/sse"}, `invalid METRICS_ROUTES="/servers/{id/sse": route "/servers/{id/sse"`},
		{"route conflict", map[string]string{"UPSTREAM_URL": "http://127.0.0.1:8080", "METRICS_ROUTES": "/a/{x},/{y}/b"}, `invalid METRICS_ROUTES="/a/{x},/{y}/b": route "/{y}/b"`},
		{"empty route", map[string]string{"UPSTREAM_URL": "http://127.0.0.1:8080", "METRICS_ROUTES": "/a,,/b"}, `invalid METRICS_ROUTES="/a,,/b": item 2`},
		{"routes without upstream", map[string]string{"METRICS_ROUTES": "/a"}, `invalid METRICS_ROUTES="/a": route templates label proxied requests`},
		{"metrics address", map[string]string{"METRICS_ADDR": "9464"}, `invalid METRICS_ADDR="9464": want HOST:PORT`},
		{"key without cert", map[string]string{"TLS_KEY_FILE": "/etc/tls.key"}, `invalid TLS_CERT_FILE="": TLS_KEY_FILE is set`},
		{"unreadable cert", map[string]string{"TLS_CERT_FILE": "/nonexistent.crt", "TLS_KEY_FILE": "/nonexistent.key"}, `invalid TLS_CERT_FILE="/nonexistent.crt": cannot load it`},
		{"duration without unit", map[string]string{"WRITE_TIMEOUT": "30"}, `invalid WRITE_TIMEOUT="30": want a duration`},
		{"negative duration", map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, `invalid SHUTDOWN_TIMEOUT="-1s"`},
		{"header size", map[string]string{"MAX_HEADER_BYTES": "1"}, `invalid MAX_HEADER_BYTES="1": want an integer from 1024`},
		{"log format", map[string]string{"LOG_FORMAT": "logfmt"}, `invalid LOG_FORMAT="logfmt": want text or json`},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, `invalid LOG_LEVEL="verbose"`},
	} {
		for _, cmd := range []string{"serve", "check"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run(t.Context(), []string{cmd}, strings.NewReader(""), &stdout, &stderr, env.Map(tc.vars))
				if code != exitConfig {
					t.Errorf("exit %d, want 2", code)
				}
				if !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
					t.Errorf("stderr %q, want one line containing %q", stderr.String(), tc.want)
				}
			})
		}
	}
}

// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION picks native
// histograms when METRICS_HISTOGRAMS is unset: the scrape and the push
// share the instrument's one aggregation.
func TestExponentialAggregationPicksNative(t *testing.T) {
	vars := map[string]string{"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
	code, out, errOut := cli(t, vars, "", "check")
	if code != exitOK || !strings.Contains(out, "\nMETRICS_HISTOGRAMS=classic\n") {
		t.Fatalf("unset: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	vars["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] = "base2_exponential_bucket_histogram"
	code, out, errOut = cli(t, vars, "", "check")
	if code != exitOK || !strings.Contains(out, "\nMETRICS_HISTOGRAMS=native\n") {
		t.Errorf("exponential: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// A bad value given as a flag is reported under the flag's name, and a
// flag overrides its environment variable.
func TestFlags(t *testing.T) {
	code, out, errOut := cli(t, map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1"}, "", "check", "--upstream", "gopher://x")
	if code != exitConfig || !strings.Contains(errOut, `invalid --upstream="gopher://x"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, out, errOut = cli(t, map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1", "PORT": "1"},
		"", "check", "--upstream=https://api.internal:8443/v1", "--port", "8080", "--routes", "GET /servers/{id}/sse", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"UPSTREAM_URL=https://api.internal:8443/v1\n", "PORT=8080\n", "METRICS_ROUTES=GET /servers/{id}/sse\n", "LOG_FORMAT=json\n",
		"METRICS_EXCLUDED_HANDLERS=^/health$,^/ready$\n", "METRICS_PROMETHEUS_NAMES=instrumentator\n", "METRICS_EXEMPLARS=true\n", "METRICS_BODY_SIZES=false\n", "METRICS_HISTOGRAMS=classic\n", "METRICS_NATIVE_MAX_BUCKETS=160\n", "METRICS_IN_PROGRESS=false\n", "WRITE_TIMEOUT=1m30s\n", "MAX_HEADER_BYTES=65536\n", "LOG_LEVEL=info\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := cli(t, nil, "", "serve", "extra"); code != exitConfig || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("serve extra: exit %d, %q", code, errOut)
	}
}

// METRICS_PROMETHEUS_NAMES=seed, the value's former spelling, still
// selects the instrumentator's series, with one warning naming the value
// to write instead.
func TestPrometheusNamesFormerValue(t *testing.T) {
	code, out, errOut := cli(t, map[string]string{"METRICS_PROMETHEUS_NAMES": "seed"}, "", "check")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "METRICS_PROMETHEUS_NAMES=instrumentator\n") {
		t.Errorf("check output lacks METRICS_PROMETHEUS_NAMES=instrumentator:\n%s", out)
	}
	if n := strings.Count(errOut, "warning: "); n != 1 || !strings.Contains(errOut, "METRICS_PROMETHEUS_NAMES=seed") || !strings.Contains(errOut, "instrumentator") {
		t.Errorf("want one warning naming instrumentator, got %d:\n%s", n, errOut)
	}
}

// -h on every command exits 0 and lists each flag with the variable that
// can also set it.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"check", "--help"}, {"token", "-h"},
		{"token", "create", "-h"}, {"token", "verify", "-h"}, {"version", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := cli(t, nil, "", args...)
			if code != exitOK || out+errOut == "" {
				t.Fatalf("exit %d, output %q", code, out+errOut)
			}
			if args[0] == "serve" || args[0] == "check" {
				for _, o := range serveOptions {
					if !strings.Contains(errOut, "-"+o.flag+" ") || !strings.Contains(errOut, "[env "+o.env+"]") {
						t.Errorf("help lacks -%s [env %s]:\n%s", o.flag, o.env, errOut)
					}
				}
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"frobnicate"}, strings.NewReader(""), io.Discard, &stderr, env.Map(nil)); code != exitConfig {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestCheckPrintsEffectiveSettings(t *testing.T) {
	var stdout bytes.Buffer
	code := run(t.Context(), []string{"check"}, strings.NewReader(""), &stdout, io.Discard, env.Map(map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "METRICS_CUSTOM_LABELS": "env=prod",
		"JWT_SECRET_KEY": "hunter2", "JWT_AUDIENCE": "metricsbridge", "JWT_ALLOW_WEAK_SECRET": "true", "JWT_MAX_TOKEN_AGE": "720h",
	}))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"ENABLE_METRICS=true\n", "METRICS_CUSTOM_LABELS=env=prod\n", "METRICS_NAMESPACE=default\n",
		"METRICS_LATENCY_BUCKETS=0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10\n", "HOST=127.0.0.1\n", "PORT=4444\n", "AUTH_REQUIRED=false\n",
		"JWT_ALGORITHM=HS256\n", "JWT_SECRET_KEY=(set, 7 bytes, hidden)\n", "JWT_SECRET_KEY_PREVIOUS=(unset)\n",
		"JWT_AUDIENCE=metricsbridge\n", "JWT_LEEWAY=30s\n", "JWT_MAX_TOKEN_AGE=720h0m0s\n", "JWT_ALLOW_WEAK_SECRET=true\n", "JWT_SECRET_KEY_FILE=\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "hunter2") {
		t.Errorf("check prints the secret:\n%s", stdout.String())
	}
}

// With no configuration at all the demo starts and the endpoint says
// metrics are disabled.
func TestServeWithoutConfiguration(t *testing.T) {
	base, stderr := startServe(t, nil)
	if !strings.Contains(stderr.String(), "metrics_enabled=false") {
		t.Errorf("start-up line: %s", stderr)
	}
	resp := mustGet(t, base+"/health", nil)
	if resp.StatusCode != 200 {
		t.Errorf("/health: %d", resp.StatusCode)
	}
	resp = mustGet(t, base+"/metrics/prometheus", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `{"error": "Metrics collection is disabled"}` {
		t.Errorf("disabled endpoint: %d %s", resp.StatusCode, body)
	}
}

// As in the Python gateway, a disabled endpoint checks the bearer token
// first when a key is configured: without a valid token a caller gets 401
// and learns nothing about the switch.
func TestDisabledEndpointChecksTokenFirst(t *testing.T) {
	base, stderr := startServe(t, map[string]string{"JWT_SECRET_KEY": testSecret})
	if !strings.Contains(stderr.String(), "metrics_enabled=false") {
		t.Errorf("start-up line: %s", stderr)
	}
	tok, err := auth.Mint(auth.MintOptions{Username: "prometheus@monitoring", Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
		body   string
	}{
		{"no token", nil, http.StatusUnauthorized, `"error":"unauthorized"`},
		{"bad token", map[string]string{"Authorization": "Bearer " + tok + "x"}, http.StatusUnauthorized, `"error":"invalid_token"`},
		{"valid token", map[string]string{"Authorization": "Bearer " + tok}, http.StatusServiceUnavailable, `{"error": "Metrics collection is disabled"}`},
	} {
		resp := mustGet(t, base+"/metrics/prometheus", c.header)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.body) {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, body, c.status, c.body)
		}
		if c.status == http.StatusUnauthorized && (resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(body), "disabled")) {
			t.Errorf("%s: the 401 lacks a challenge or tells of the switch: %v %s", c.name, resp.Header, body)
		}
	}
}

// The "done when": the demo serves, and the endpoint returns the
// contract's series gzip'd.
func TestServeDemoGzipScrape(t *testing.T) {
	base, stderr := startServe(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"})
	if !strings.Contains(stderr.String(), `auth=OFF`) {
		t.Errorf("start-up line does not warn that auth is off: %s", stderr)
	}
	post(t, base+"/tools/invoke", `{"tool":"echo","args":{"x":1}}`, 200)
	post(t, base+"/tools/invoke", `{"tool":"fail"}`, 500)
	post(t, base+"/tools/invoke", `not json`, 400)
	resp := mustGet(t, base+"/servers/s1/sse?events=2&interval=1ms", nil)
	events, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") != "text/event-stream" || strings.Count(string(events), "event: message") != 2 {
		t.Errorf("sse: %s %q", resp.Header.Get("Content-Type"), events)
	}
	mustGet(t, base+"/static/index.html", nil)
	mustGet(t, base+"/users/42", nil)

	want := []string{
		`http_requests_total{handler="/tools/invoke",method="POST",status="200"} 1`,
		`http_requests_total{handler="/tools/invoke",method="POST",status="500"} 1`,
		`http_requests_total{handler="/tools/invoke",method="POST",status="400"} 1`,
		`http_requests_total{handler="/servers/{id}/sse",method="GET",status="200"} 1`,
		`http_requests_total{handler="none",method="GET",status="404"} 1`,
		`http_request_duration_seconds_bucket{handler="/tools/invoke",method="POST",le="0.1"} 3`,
		`app_info{version="devel"} 1`,
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp = mustGet(t, base+"/metrics/prometheus", map[string]string{"Accept-Encoding": "gzip"})
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(zr)
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(text), w) {
				missing = w
			}
		}
		if missing == "" {
			promtest.CheckMetrics(t, text)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape lacks %s:\n%s", missing, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A real Prometheus server scrapes the bridge and sees every request:
// Prometheus 3, the tests' default, and Debian's Prometheus 2, so older
// installs stay covered.
func TestPrometheusScrapesTheBridge(t *testing.T) {
	for _, tc := range []struct {
		name string
		bin  func(testing.TB, string) string
	}{
		{"prometheus 3", promtest.Tool},
		{"debian prometheus 2", promtest.Legacy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.bin(t, "prometheus")
			t.Log(promtest.Version(t, bin))
			base, _ := startServe(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
				"METRICS_NAMESPACE": "mcp", "METRICS_CUSTOM_LABELS": "env=e2e"})
			prom := promtest.StartBinary(t, bin, fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mcp-gateway
    metrics_path: /metrics/prometheus
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(base, "http://")))

			const n = 40
			for i := range n {
				if i%4 == 0 {
					post(t, base+"/tools/invoke", `{"tool":"fail"}`, 500)
					continue
				}
				post(t, base+"/tools/invoke", `{"tool":"echo"}`, 200)
			}
			prom.WaitFor(t, `up{job="mcp-gateway"}`, 20*time.Second, func(s []promtest.Sample) bool {
				return len(s) == 1 && s[0].Value == 1
			})
			prom.WaitFor(t, `sum(mcp_http_requests_total{handler="/tools/invoke"})`, 20*time.Second, func(s []promtest.Sample) bool {
				return len(s) == 1 && s[0].Value == n
			})
			res := prom.WaitFor(t, `mcp_http_requests_total{handler="/tools/invoke",status="500"}`, 5*time.Second, func(s []promtest.Sample) bool {
				return len(s) == 1 && s[0].Value == n/4
			})
			if res[0].Metric["method"] != "POST" || res[0].Metric["job"] != "mcp-gateway" {
				t.Errorf("labels %v", res[0].Metric)
			}
			prom.WaitFor(t, `mcp_app_info{env="e2e"}`, 5*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })
			prom.WaitFor(t, `histogram_quantile(0.5, sum by (le) (mcp_http_request_duration_seconds_bucket))`, 5*time.Second,
				func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value > 0 && s[0].Value <= 0.1 })
		})
	}
}

func mustGet(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// A transport of its own so Go's client does not transparently
	// decompress, and connections do not outlive the test.
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func post(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Errorf("POST %s %s: %d, want %d", url, body, resp.StatusCode, want)
	}
}

// LOG_FORMAT=json writes one JSON object per line, and LOG_LEVEL=debug
// shows the auth refusals that are hidden at the default level.
func TestJSONLogs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &logbuf.Buffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "--log-level", "debug"}, strings.NewReader(""), io.Discard, stderr, env.Map(map[string]string{
			"PORT": "0", "LOG_FORMAT": "json", "ENABLE_METRICS": "true", "JWT_SECRET_KEY": "json-logs-test-secret-0123456789abcdef",
		}))
	}()
	var start map[string]any
	for deadline := time.Now().Add(10 * time.Second); start == nil; time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(stderr.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			if m["msg"] == "metricsbridge serving" {
				start = m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start-up line:\n%s", stderr)
		}
	}
	base, _ := start["gateway"].(string)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || start["level"] != "INFO" {
		t.Fatalf("start-up line %v", start)
	}
	resp := mustGet(t, base+"/metrics/prometheus", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("scrape without a token: %d", resp.StatusCode)
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), `"level":"DEBUG"`) || !strings.Contains(stderr.String(), `"reason":"missing"`) {
		t.Errorf("no debug line for the refused scrape:\n%s", stderr)
	}
}
