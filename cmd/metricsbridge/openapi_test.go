package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// docServer is an upstream that serves its own OpenAPI document, which
// the test may change, at /openapi.json, 404 under /docs/, and 200 on
// every other path.
type docServer struct {
	*httptest.Server
	mu     sync.Mutex
	doc    string
	status int
	delay  time.Duration
}

func newDocServer(t *testing.T, doc string) *docServer {
	t.Helper()
	d := &docServer{doc: doc, status: http.StatusOK}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/docs/") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path != "/openapi.json" {
			writeJSON(w, http.StatusOK, map[string]string{"path": r.URL.Path})
			return
		}
		d.mu.Lock()
		doc, status, delay := d.doc, d.status, d.delay
		d.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, doc)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *docServer) set(doc string, status int) {
	d.mu.Lock()
	d.doc, d.status = doc, status
	d.mu.Unlock()
}

// send makes the requests ("METHOD /path") and checks each got 200.
func send(t *testing.T, client *http.Client, base string, reqs ...string) {
	t.Helper()
	for _, r := range reqs {
		method, path, _ := strings.Cut(r, " ")
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", r, resp.StatusCode)
		}
	}
}

// gatewayDoc is the kind of document a FastAPI gateway serves about
// itself, with a pair of templates ServeMux refuses together.
const gatewayDoc = `{
  "openapi": "3.1.0",
  "info": {"title": "gateway", "version": "0.1.0"},
  "paths": {
    "/servers": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/servers/{server_id}": {
      "get": {"responses": {"200": {"description": "ok"}}},
      "delete": {"responses": {"200": {"description": "ok"}}}
    },
    "/servers/{server_id}/sse": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/tools/invoke": {"post": {"responses": {"200": {"description": "ok"}}}},
    "/videos/characters/{character_id}": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/videos/{video_id}/content": {"get": {"responses": {"200": {"description": "ok"}}}}
  }
}`

// The bridge reads the upstream's own /openapi.json at start and labels
// proxied requests by its templates; an explicit --routes template wins,
// the conflicting pair is reported once and resolved by the literal
// segment, and the document's own fetch is not a counted request.
func TestProxyOpenAPI(t *testing.T) {
	up := newDocServer(t, gatewayDoc)
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"},
		"--upstream", up.URL, "--openapi", "/openapi.json", "--routes", "GET /servers/{id}")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	send(t, client, b.base,
		"GET /servers", "GET /servers/7", "DELETE /servers/7", "GET /servers/7/sse", "GET /servers/8/sse",
		"POST /tools/invoke", "POST /tools/invoke", "POST /tools/invoke",
		"GET /videos/characters/content", "GET /videos/characters/42", "GET /videos/9/content",
		"GET /servers/7/sse/extra", "GET /openapi.json", "HEAD /servers",
	)
	waitCounts(t, client, b.metrics, map[string]int{
		"GET /servers 200":                          1,
		"HEAD /servers 200":                         1,
		"GET /servers/{id} 200":                     1,
		"DELETE /servers/{server_id} 200":           1,
		"GET /servers/{server_id}/sse 200":          2,
		"POST /tools/invoke 200":                    3,
		"GET /videos/characters/{character_id} 200": 2,
		"GET /videos/{video_id}/content 200":        1,
		"GET none 200":                              2,
	})
	log := b.stderr.String()
	for _, want := range []string{
		`msg="route templates from the OpenAPI document" source="` + up.URL + `/openapi.json (on the upstream)" version="OpenAPI 3.1.0" templates=7 routes_templates=1 conflicting_pairs=1`,
		`winner="GET /videos/characters/{character_id}" loser="GET /videos/{video_id}/content" example=/videos/characters/content`,
	} {
		if strings.Count(log, want) != 1 {
			t.Errorf("log has not exactly one %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "OpenAPI templates overlap"); n != 1 {
		t.Errorf("%d conflict lines, want 1:\n%s", n, log)
	}
}

func oneRouteDoc(path string) string {
	return `{"openapi": "3.0.3", "paths": {"` + path + `": {"get": {}}}}`
}

// A document from a URL is re-read every --openapi-refresh and on SIGHUP;
// while it cannot be loaded the last good templates stay and the failure
// is logged once.
func TestOpenAPIReload(t *testing.T) {
	up := newDocServer(t, oneRouteDoc("/a/{id}"))
	b := startBridge(t, map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "false"},
		"--upstream", up.URL, "--openapi", up.URL+"/openapi.json", "--openapi-refresh", "1s")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	waitLog := func(substr string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); strings.Count(b.stderr.String(), substr) < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("log lacks %d× %q:\n%s", n, substr, b.stderr)
			}
		}
	}
	send(t, client, b.base, "GET /a/1")

	up.set(oneRouteDoc("/b/{id}"), http.StatusOK) // picked up by the timer
	waitLog(`msg="OpenAPI document reloaded"`, 1)
	send(t, client, b.base, "GET /b/1", "GET /a/1")

	up.set("Internal Server Error", http.StatusInternalServerError)
	time.Sleep(2500 * time.Millisecond) // two refreshes
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	send(t, client, b.base, "GET /b/2")
	if n := strings.Count(b.stderr.String(), "OpenAPI reload failed"); n != 1 {
		t.Errorf("%d reload failures logged, want 1:\n%s", n, b.stderr)
	}
	if !strings.Contains(b.stderr.String(), "500 Internal Server Error") {
		t.Errorf("the failure's reason is not logged:\n%s", b.stderr)
	}

	up.set(oneRouteDoc("/c/{id}"), http.StatusOK)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="OpenAPI document reloaded"`, 2)
	waitLog(`msg="OpenAPI document loads again"`, 1)
	send(t, client, b.base, "GET /c/1")
	waitCounts(t, client, b.metrics, map[string]int{
		"GET /a/{id} 200": 1,
		"GET /b/{id} 200": 2,
		"GET none 200":    1,
		"GET /c/{id} 200": 1,
	})
}

// A document that cannot be loaded stops serve and check at start with
// exit status 2 and the reason, under the flag's name when a flag set it.
func TestOpenAPIStartFailures(t *testing.T) {
	up := newDocServer(t, "not: [an, openapi, document]")
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"openapi": "3.0.0", "paths": {"/a": {"get": {}}`), 0o600)
	slow := newDocServer(t, gatewayDoc)
	slow.delay = 2 * time.Second
	defer func(d time.Duration) { openAPITimeout = d }(openAPITimeout)
	openAPITimeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no upstream", map[string]string{"METRICS_OPENAPI": "/openapi.json"}, nil,
			`invalid METRICS_OPENAPI="/openapi.json": route templates label proxied requests; set UPSTREAM_URL`},
		{"missing file", map[string]string{"UPSTREAM_URL": up.URL}, []string{"--openapi", "api.yaml"},
			`invalid --openapi="api.yaml": cannot load the OpenAPI document: open api.yaml: no such file or directory`},
		{"not found on the upstream", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": "/docs/openapi.yaml"}, nil,
			`invalid METRICS_OPENAPI="/docs/openapi.yaml": cannot load the OpenAPI document: GET ` + up.URL + `/docs/openapi.yaml: 404 Not Found`},
		{"not a document", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": "/openapi.json"}, nil,
			`cannot load the OpenAPI document: neither an openapi nor a swagger field`},
		{"broken file", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": broken}, nil,
			`invalid METRICS_OPENAPI="` + broken + `": cannot load the OpenAPI document: not valid JSON: line 1: unexpected end of JSON input`},
		{"upstream too slow", map[string]string{"UPSTREAM_URL": slow.URL, "METRICS_OPENAPI": "/openapi.json"}, nil,
			`/openapi.json: no complete answer within 300ms`},
		{"refused connection", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": "http://" + promtest.FreeAddr(t) + "/openapi.json"}, nil,
			`connection refused`},
		{"credentials", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": "https://u:p@example.com/openapi.json"}, nil,
			`credentials in the URL are not supported`},
		{"refresh too short", map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI_REFRESH": "10ms"}, nil,
			`invalid METRICS_OPENAPI_REFRESH="10ms": want 0 (no timer) or at least 1s`},
	} {
		for _, cmd := range []string{"serve", "check"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				code, _, errOut := cli(t, tc.vars, "", append([]string{cmd}, tc.args...)...)
				if code != exitConfig || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("exit %d, stderr %q; want 2 and one line containing %q", code, errOut, tc.want)
				}
			})
		}
	}
}

// check prints how many templates came from where, and the conflicts.
func TestCheckOpenAPI(t *testing.T) {
	doc, _ := filepath.Abs(filepath.Join("..", "..", "otelmetrics", "routes", "testdata", "openapi", "conflicts.yaml"))
	code, out, errOut := cli(t, map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1", "METRICS_ROUTES": "GET /x,POST /y"}, "", "check", "--openapi", doc)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"METRICS_OPENAPI=" + doc + "\n",
		"METRICS_OPENAPI_REFRESH=5m0s\n",
		"route templates: 2 from METRICS_ROUTES, 9 from file " + doc + " (OpenAPI 3.0.0; 5 conflicting pairs)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if want := "warning: OpenAPI templates overlap: GET /videos/characters/{character_id} wins over GET /videos/{video_id}/content (e.g. /videos/characters/content)\n"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	_, out, _ = cli(t, map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1"}, "", "check")
	if !strings.Contains(out, "route templates: none (every proxied request is handler=none)\n") {
		t.Errorf("check without templates:\n%s", out)
	}
}

// The document is fetched from the host configured: a redirect within it
// is followed, one to another host is not, and an error names the URL it
// failed on.
func TestOpenAPIRedirects(t *testing.T) {
	other := newDocServer(t, gatewayDoc)
	var self string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/openapi.json", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, self+"/docs/openapi.json", http.StatusMovedPermanently)
		case "/here":
			http.Redirect(w, r, "/openapi.json", http.StatusFound)
		case "/openapi.json":
			io.WriteString(w, gatewayDoc)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(up.Close)
	self = up.URL
	for _, tc := range []struct{ path, want string }{
		{"/away", "GET " + other.URL + "/openapi.json: redirect to another host not followed"},
		{"/moved", "GET " + up.URL + "/docs/openapi.json: 404 Not Found"},
		{"/here", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			src, err := parseOpenAPISource(up.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = loadOpenAPI(t.Context(), src, http.DefaultTransport)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasSuffix(err.Error(), tc.want)) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// A signal while the document loads at start (here ctx ending, as main's
// signal context does) stops the start with exit 1 and the interruption,
// every time: the load's own failure, which the cancellation causes, must
// not win and turn it into a configuration error (exit 2). The load itself
// is cancelled: the upstream sees its request go away.
func TestOpenAPILoadInterrupted(t *testing.T) {
	arrived := make(chan struct{}, 1)
	gone := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // never answers
		gone <- struct{}{}
	}))
	t.Cleanup(up.Close)
	vars := map[string]string{"UPSTREAM_URL": up.URL, "METRICS_OPENAPI": "/openapi.json", "AUTH_REQUIRED": "false", "PORT": "0"}
	const runs = 25
	for i := range runs {
		for _, command := range []string{"check", "serve"} {
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-arrived
				cancel()
			}()
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(ctx, []string{command}, strings.NewReader(""), &stdout, &stderr, env.Map(vars))
			cancel()
			if code != exitFail || stderr.String() != "metricsbridge "+command+": interrupted while loading the configuration\n" {
				t.Fatalf("run %d, %s: exit %d, stderr %q; want 1 and the interruption alone", i, command, code, stderr.String())
			}
			select {
			case <-gone:
			case <-time.After(10 * time.Second):
				t.Fatalf("run %d, %s: the document's fetch went on after the signal", i, command)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("run %d, %s: stopped after %s", i, command, d)
			}
		}
	}
}
