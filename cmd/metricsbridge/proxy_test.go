package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// testUpstream is the service behind the proxy.
type testUpstream struct {
	*httptest.Server
	release chan struct{} // closing it lets /servers/{id}/sse finish
}

// newTestUpstream serves the routes below plus extra, keyed by pattern.
func newTestUpstream(t *testing.T, extra map[string]http.HandlerFunc) *testUpstream {
	t.Helper()
	u := &testUpstream{release: make(chan struct{})}
	mux := http.NewServeMux()
	for pattern, h := range extra {
		mux.HandleFunc(pattern, h)
	}
	mux.HandleFunc("POST /tools/invoke", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /servers/{id}/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first "+r.PathValue("id")+"\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-u.release:
			io.WriteString(w, "data: last\n\n")
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "down for maintenance"})
	})
	mux.HandleFunc("GET /echo-headers", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		writeJSON(w, http.StatusOK, h)
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	t.Cleanup(func() {
		select {
		case <-u.release:
		default:
			close(u.release)
		}
	})
	return u
}

var requestsRE = regexp.MustCompile(`^http_requests_total\{handler="([^"]*)",method="([^"]*)",status="([^"]*)"\} (\S+)$`)

// requestCounts scrapes url, with a bearer token unless it is empty, and
// returns http_requests_total keyed by "METHOD handler status".
func requestCounts(t testing.TB, client *http.Client, url, token string) map[string]int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, body)
	}
	got := map[string]int{}
	for line := range strings.Lines(string(body)) {
		if m := requestsRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			n, _ := strconv.Atoi(m[4])
			got[m[2]+" "+m[1]+" "+m[3]] = n
		}
	}
	return got
}

// waitCounts polls the scrape endpoint until the request counts, the
// scrapes themselves left out, equal want.
func waitCounts(t *testing.T, client *http.Client, url string, want map[string]int) {
	t.Helper()
	var got map[string]int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = requestCounts(t, client, url, "")
		maps.DeleteFunc(got, func(k string, _ int) bool { return strings.HasPrefix(k, "GET /metrics/prometheus ") })
		if maps.Equal(got, want) {
			return
		}
	}
	t.Errorf("http_requests_total = %v\nwant %v", got, want)
}

func get(t *testing.T, client *http.Client, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	maps.Copy(req.Header, header)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The proxy forwards everything, streams without buffering, labels by
// route template and records upstream failures with the status the client
// got.
func TestProxy(t *testing.T) {
	up := newTestUpstream(t, nil)
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		// Short enough to prove a stream outlives them.
		"UPSTREAM_TIMEOUT": "300ms", "WRITE_TIMEOUT": "400ms",
	}, "--upstream", up.URL, "--routes", "POST /tools/invoke, GET /servers/{id}/sse,GET /slow,GET /fail,GET /echo-headers")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("stream", func(t *testing.T) {
		resp, err := client.Get(b.base + "/servers/42/sse")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		// The upstream is still holding the stream open: this event can only
		// arrive if the proxy does not buffer.
		if line, err := r.ReadString('\n'); err != nil || line != "data: first 42\n" {
			t.Fatalf("first event %q, %v", line, err)
		}
		time.Sleep(600 * time.Millisecond) // past WRITE_TIMEOUT
		close(up.release)
		rest, err := io.ReadAll(r)
		if err != nil || string(rest) != "\ndata: last\n\n" {
			t.Errorf("rest of the stream %q, %v", rest, err)
		}
	})
	t.Run("stream closed by the client", func(t *testing.T) {
		// The upstream keeps this one open until the client leaves.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/servers/7/sse?x=1", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "data: first 7\n" {
			t.Errorf("first event %q, %v", line, err)
		}
		cancel()
		resp.Body.Close()
	})
	t.Run("statuses", func(t *testing.T) {
		for range 3 {
			resp, err := client.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("POST /tools/invoke: %d", resp.StatusCode)
			}
		}
		for _, tc := range []struct {
			path string
			want int
		}{
			{"/fail", 503}, {"/fail", 503},
			{"/slow", 504},
			{"/no/route/" + strconv.Itoa(time.Now().Nanosecond()), 404},
			{"/tools/invoke", 405}, // upstream's answer to GET, forwarded
		} {
			if code, body := get(t, client, b.base+tc.path, nil); code != tc.want {
				t.Errorf("GET %s: %d %s, want %d", tc.path, code, body, tc.want)
			}
		}
	})
	t.Run("client gives up before the upstream answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/slow", nil)
		if _, err := client.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("headers", func(t *testing.T) {
		code, body := get(t, client, b.base+"/echo-headers", http.Header{
			"Connection":      {"X-Hop"},
			"X-Hop":           {"must not be forwarded"},
			"X-Forwarded-For": {"203.0.113.7"},
		})
		var h http.Header
		if err := json.Unmarshal([]byte(body), &h); code != 200 || err != nil {
			t.Fatalf("%d %s", code, body)
		}
		host := strings.TrimPrefix(b.base, "http://")
		want := map[string]string{
			"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
			"X-Forwarded-Host":  host,
			"X-Forwarded-Proto": "http",
			"X-Hop":             "",
			"Host":              strings.TrimPrefix(up.URL, "http://"),
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("upstream got %s: %q, want %q", k, got, v)
			}
		}
	})
	t.Run("probes", func(t *testing.T) {
		for _, path := range []string{"/health", "/ready"} {
			if code, body := get(t, client, b.base+path, nil); code != 200 {
				t.Errorf("GET %s: %d %s", path, code, body)
			}
		}
	})

	// Probes are left out by default; each request is in exactly one series.
	waitCounts(t, client, b.metrics, map[string]int{
		"GET /servers/{id}/sse 200": 2,
		"POST /tools/invoke 200":    3,
		"GET /fail 503":             2,
		"GET /slow 504":             1,
		"GET /slow 499":             1,
		"GET none 404":              1,
		"GET none 405":              1,
		"GET /echo-headers 200":     1,
	})
	if !strings.Contains(b.stderr.String(), `msg="upstream request failed" status=504`) {
		t.Errorf("the 504 is not logged:\n%s", b.stderr)
	}
}

// An upstream that refuses connections gives 502, recorded, and makes the
// bridge not ready; the scrape endpoint and probes stay on their own
// listener when METRICS_ADDR is set, and the main listener forwards even
// /metrics/prometheus.
func TestProxyUpstreamDownAndMetricsListener(t *testing.T) {
	closed := "http://" + promtest.FreeAddr(t)
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false",
		"UPSTREAM_URL": closed, "METRICS_ROUTES": "POST /tools/invoke", "METRICS_ADDR": "127.0.0.1:0",
	})
	if b.metrics == b.base+"/metrics/prometheus" {
		t.Fatalf("metrics on the main listener: %s", b.metrics)
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for range 2 {
		resp, err := client.Post(b.base+"/tools/invoke", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("POST /tools/invoke: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if code, _ := get(t, client, b.base+"/metrics/prometheus", nil); code != http.StatusBadGateway {
		t.Errorf("main listener /metrics/prometheus: %d, want it forwarded (502)", code)
	}
	own := strings.TrimSuffix(b.metrics, "/metrics/prometheus")
	// The probe learns the state, the log the reason.
	if code, body := get(t, client, own+"/ready", nil); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != `{"status":"upstream unreachable"}` {
		t.Errorf("/ready with the upstream down: %d %s, want only the status", code, body)
	}
	if !strings.Contains(b.stderr.String(), "readiness: upstream unreachable") || !strings.Contains(b.stderr.String(), "connection refused") {
		t.Errorf("the dial error is not in the log:\n%s", b.stderr)
	}
	if code, _ := get(t, client, own+"/health", nil); code != http.StatusOK {
		t.Errorf("/health: %d", code)
	}
	waitCounts(t, client, b.metrics, map[string]int{
		"POST /tools/invoke 502": 2,
		"GET none 502":           1,
	})
	if n := strings.Count(b.stderr.String(), "upstream request failed"); n != 1 {
		t.Errorf("%d failure lines logged, want 1 (rate-limited):\n%s", n, b.stderr)
	}
}

// The server's limits hold against hostile clients: an oversized header is
// refused with 431, a client dribbling its header is disconnected after
// READ_HEADER_TIMEOUT, an idle keep-alive connection after IDLE_TIMEOUT,
// and none of them reaches the upstream or the metrics.
func TestServerLimits(t *testing.T) {
	reached := make(chan string, 10)
	up := newTestUpstream(t, map[string]http.HandlerFunc{"/": func(w http.ResponseWriter, r *http.Request) { reached <- r.URL.Path }})
	b := startBridge(t, map[string]string{
		"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false", "UPSTREAM_URL": up.URL,
		"READ_HEADER_TIMEOUT": "300ms", "IDLE_TIMEOUT": "300ms", "MAX_HEADER_BYTES": "65536",
	})
	addr := strings.TrimPrefix(b.base, "http://")

	t.Run("1 MiB header", func(t *testing.T) {
		code, _ := get(t, http.DefaultClient, b.base+"/big", http.Header{"X-Big": {strings.Repeat("a", 1<<20)}})
		if code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", code)
		}
	})
	// closedWithin reports whether the server closes c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return err == nil || !(errors.As(err, &ne) && ne.Timeout())
	}
	t.Run("slow header", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		io.WriteString(c, "GET /slowloris HTTP/1.1\r\nHost: x\r\n")
		// One header byte every 50 ms would keep a server without a header
		// deadline waiting for ever.
		go func() {
			for i := 0; i < 100; i++ {
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		if !closedWithin(c, 3*time.Second) {
			t.Fatal("the connection is still open after 3s")
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("closed after %s, before READ_HEADER_TIMEOUT", d)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		if !closedWithin(c, 3*time.Second) {
			t.Fatal("an idle connection is still open after 3s")
		}
	})
	select {
	case p := <-reached:
		t.Errorf("%s reached the upstream", p)
	default:
	}
	// net/http refuses these before any handler runs, so they are not
	// requests the service answered and are not counted.
	waitCounts(t, http.DefaultClient, b.metrics, map[string]int{})
}
