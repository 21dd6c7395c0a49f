package main

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

func loadTestDocument(t *testing.T, name string) *apiDescription {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "openapi", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseOpenAPI(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func patterns(routes []tableRoute) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.pattern())
	}
	slices.Sort(out)
	return out
}

// label is what the table sets Request.Pattern to for "METHOD target".
func label(table *routeTable, req string) string {
	method, target, _ := strings.Cut(req, " ")
	return table.match(httptest.NewRequest(method, target, nil))
}

// Each kind of document yields its operations as templates under the
// server's path, and concrete requests get the template ServeMux would
// pick.
func TestParseOpenAPI(t *testing.T) {
	everyMethod := func(tmpl string) []string {
		var out []string
		for _, m := range tableMethods {
			out = append(out, m+" "+tmpl)
		}
		return out
	}
	for _, tc := range []struct {
		file      string
		version   string
		routes    []string
		labels    map[string]string // request -> pattern, "" for none
		notes     []string          // substrings, one per note
		conflicts int
	}{
		{
			file:    "petstore-3.0.yaml",
			version: "3.0.3",
			routes: append([]string{
				"PUT /api/v3/pet", "POST /api/v3/pet", "GET /api/v3/pet/findByStatus",
				"GET /api/v3/pet/{petId}", "POST /api/v3/pet/{petId}", "DELETE /api/v3/pet/{petId}",
				"POST /api/v3/pet/{petId}/uploadImage",
				"GET /api/v3/store/order/{orderId}", "DELETE /api/v3/store/order/{orderId}",
			}, everyMethod("/api/v3/user/{username}")...),
			labels: map[string]string{
				"GET /api/v3/pet/findByStatus?status=sold": "GET /api/v3/pet/findByStatus",
				"GET /api/v3/pet/42":                       "GET /api/v3/pet/{petId}",
				"POST /api/v3/pet/findByStatus":            "POST /api/v3/pet/{petId}", // no POST on the literal path
				"HEAD /api/v3/pet/42":                      "GET /api/v3/pet/{petId}",
				"POST /api/v3/pet/42/uploadImage":          "POST /api/v3/pet/{petId}/uploadImage",
				"GET /api/v3/pet/42/uploadImage":           "",
				"PATCH /api/v3/user/ada":                   "PATCH /api/v3/user/{username}",
				"GET /pet/42":                              "",
				"GET /api/v3/pet/":                         "",
				"GET /api/v3//pet/42":                      "",
				"GET /api/v3/pet/../pet/42":                "",
				"CONNECT /api/v3/pet":                      "",
			},
			notes: []string{`$ref "users.yaml#/user" is not followed`},
		},
		{
			file:    "api-3.1.json",
			version: "3.1.0",
			routes: []string{
				"GET /v1/reports", "POST /v1/reports",
				"GET /v1/reports/{reportId}", "PATCH /v1/reports/{reportId}", "DELETE /v1/reports/{reportId}",
				"GET /v1/reports/{reportId}.csv", "GET /v1/reports/latest",
				"GET /dl/exports/{name}", "GET /health",
			},
			labels: map[string]string{
				"GET /v1/reports":         "GET /v1/reports",
				"GET /v1/reports/latest":  "GET /v1/reports/latest",
				"GET /v1/reports/42":      "GET /v1/reports/{reportId}",
				"GET /v1/reports/42.csv":  "GET /v1/reports/{reportId}.csv",
				"GET /v1/reports/.csv":    "GET /v1/reports/{reportId}",
				"DELETE /v1/reports/42":   "DELETE /v1/reports/{reportId}",
				"PUT /v1/reports/42":      "",
				"GET /v1/reports/a%2Fb":   "GET /v1/reports/{reportId}",
				"GET /v1/reports/42/more": "",
				"GET /dl/exports/a.txt":   "GET /dl/exports/{name}",
				"GET /health":             "GET /health",
				"GET /v1/health":          "",
			},
		},
		{
			file:    "swagger-2.0.yaml",
			version: "2.0",
			routes: []string{
				"GET /v2/orders", "POST /v2/orders", "GET /v2/orders/{id}", "HEAD /v2/orders/{id}",
				"PUT /v2/orders/{id}/items/{itemId}",
			},
			labels: map[string]string{
				"GET /v2/orders/7":          "GET /v2/orders/{id}",
				"HEAD /v2/orders/7":         "HEAD /v2/orders/{id}",
				"HEAD /v2/orders":           "GET /v2/orders",
				"PUT /v2/orders/7/items/1":  "PUT /v2/orders/{id}/items/{itemId}",
				"GET /orders/7":             "",
				"OPTIONS /v2/orders/7":      "",
				"GET /v2/orders/7/items/1/": "",
			},
		},
		{
			file:    "conflicts.yaml",
			version: "3.0.0",
			routes: []string{
				"GET /videos/characters/{character_id}", "GET /videos/{video_id}/content",
				"GET /files/{fileId}", "GET /files/{name}", "DELETE /files/{name}",
				"GET /{a}/b/c", "GET /a/{b}/c", "GET /a/b/{c}", "POST /{x}/{y}/content",
			},
			labels: map[string]string{
				"GET /videos/characters/content":  "GET /videos/characters/{character_id}",
				"GET /videos/characters/42":       "GET /videos/characters/{character_id}",
				"GET /videos/42/content":          "GET /videos/{video_id}/content",
				"GET /videos/characters":          "",
				"GET /files/a":                    "GET /files/{fileId}",
				"DELETE /files/a":                 "DELETE /files/{name}",
				"GET /a/b/c":                      "GET /a/b/{c}",
				"GET /a/x/c":                      "GET /a/{b}/c",
				"GET /x/b/c":                      "GET /{a}/b/c",
				"POST /videos/characters/content": "POST /{x}/{y}/content",
			},
			conflicts: 5,
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := loadTestDocument(t, tc.file)
			if d.version != tc.version {
				t.Errorf("version %q, want %q", d.version, tc.version)
			}
			want := slices.Clone(tc.routes)
			slices.Sort(want)
			if got := patterns(d.routes); !slices.Equal(got, want) {
				t.Errorf("routes\n got %q\nwant %q", got, want)
			}
			if len(d.notes) != len(tc.notes) {
				t.Errorf("notes %q, want %d", d.notes, len(tc.notes))
			}
			for i, n := range tc.notes {
				if i < len(d.notes) && !strings.Contains(d.notes[i], n) {
					t.Errorf("note %q lacks %q", d.notes[i], n)
				}
			}
			table := newRouteTable(d.routes)
			for req, want := range tc.labels {
				if got := label(table, req); got != want {
					t.Errorf("%s labelled %q, want %q", req, got, want)
				}
			}
			if len(table.conflicts) != tc.conflicts {
				t.Errorf("%d conflicts, want %d: %v", len(table.conflicts), tc.conflicts, table.conflicts)
			}
		})
	}
}

// The conflicts are reported as pairs with the winner first and a request
// both match, and that request is labelled with the winner.
func TestOpenAPIConflicts(t *testing.T) {
	table := newRouteTable(loadTestDocument(t, "conflicts.yaml").routes)
	want := []routeConflict{
		{"GET /a/b/{c}", "GET /a/{b}/c", "/a/b/c", ""},
		{"GET /a/b/{c}", "GET /{a}/b/c", "/a/b/c", ""},
		// The one path these two share goes to a third, more specific
		// template.
		{"GET /a/{b}/c", "GET /{a}/b/c", "/a/b/c", "GET /a/b/{c}"},
		{"GET /files/{fileId}", "GET /files/{name}", "/files/x", ""},
		{"GET /videos/characters/{character_id}", "GET /videos/{video_id}/content", "/videos/characters/content", ""},
	}
	if !slices.Equal(table.conflicts, want) {
		t.Errorf("conflicts\n got %q\nwant %q", table.conflicts, want)
	}
	for _, c := range table.conflicts {
		if got := label(table, "GET "+c.example); got != cmp.Or(c.taken, c.winner) {
			t.Errorf("%s labelled %q, want %q", c.example, got, cmp.Or(c.taken, c.winner))
		}
	}
	// The outcome does not depend on the order of the document.
	routes := loadTestDocument(t, "conflicts.yaml").routes
	slices.Reverse(routes)
	if got := newRouteTable(routes).conflicts; !slices.Equal(got, want) {
		t.Errorf("reversed document: conflicts %q", got)
	}
}

// Documents that cannot be loaded give one reason each.
func TestParseOpenAPIBroken(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "  \n", "the document is empty"},
		{"truncated JSON", "{\"openapi\": \"3.0.0\",\n\"paths\": {", "not valid JSON: line 2"},
		{"bad YAML", "openapi: 3.0.0\npaths:\n  /a: [\n", "not valid YAML or JSON"},
		{"a list", "- openapi\n- 3.0.0\n", "not a JSON or YAML object"},
		{"no version", `{"info": {"title": "x"}, "paths": {"/a": {"get": {}}}}`, "neither an openapi nor a swagger field"},
		{"openapi 4", "openapi: 4.0.0\npaths: {/a: {get: {}}}\n", `openapi version "4.0.0"`},
		{"swagger 1.2", "swagger: \"1.2\"\npaths: {/a: {get: {}}}\n", `swagger version "1.2"`},
		{"no paths", "openapi: 3.1.0\ninfo: {title: webhooks only}\n", "has no paths"},
		{"no operations", "openapi: 3.0.0\npaths:\n  /a:\n    summary: x\n  /b: null\n", "has no operations"},
		{"only bad templates", "openapi: 3.0.0\npaths:\n  /a/{b:\n    get: {}\n  c/d:\n    get: {}\n", "has no operations"},
		{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n", "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOpenAPI([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cannot load the OpenAPI document: ") {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := readLimited(strings.NewReader(strings.Repeat(" ", openAPIMaxBytes+1)))
		if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Errorf("err %v", err)
		}
		if b, err := readLimited(strings.NewReader(strings.Repeat(" ", openAPIMaxBytes))); err != nil || len(b) != openAPIMaxBytes {
			t.Errorf("exactly 16 MiB: %d bytes, %v", len(b), err)
		}
	})
	t.Run("bad templates are left out, the rest loads", func(t *testing.T) {
		d, err := parseOpenAPI([]byte("openapi: 3.0.0\npaths:\n  /a/{b:\n    get: {}\n  /c/{d}:\n    get: {}\n  /e/{f}{g}:\n    get: {}\n  /h/{}:\n    get: {}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := patterns(d.routes); !slices.Equal(got, []string{"GET /c/{d}"}) || len(d.notes) != 3 {
			t.Errorf("routes %q, notes %q", got, d.notes)
		}
	})
}

// For every set of templates ServeMux accepts, the table labels every
// request as ServeMux does.
func TestRouteTableAgreesWithServeMux(t *testing.T) {
	segs := []string{"a", "b", "{p}"}
	methods := []string{"GET", "POST"}
	var requests []*http.Request
	var paths func(prefix string, depth int)
	paths = func(prefix string, depth int) {
		for _, s := range []string{"a", "b", "c"} {
			p := prefix + "/" + s
			for _, m := range []string{"GET", "HEAD", "POST", "PUT"} {
				requests = append(requests, httptest.NewRequest(m, p, nil))
			}
			if depth > 1 {
				paths(p, depth-1)
			}
		}
	}
	paths("", 3)
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 3000 {
		n := 1 + rng.IntN(6)
		var templates []string
		var routes []tableRoute
		for range n {
			var b strings.Builder
			for i := range 1 + rng.IntN(3) {
				b.WriteString("/" + strings.ReplaceAll(segs[rng.IntN(len(segs))], "p", fmt.Sprint("p", i)))
			}
			m := methods[rng.IntN(len(methods))]
			if slices.Contains(templates, m+" "+b.String()) {
				continue
			}
			templates = append(templates, m+" "+b.String())
			s, err := parseTemplate(b.String())
			if err != nil {
				t.Fatal(err)
			}
			routes = append(routes, tableRoute{method: m, template: b.String(), segs: s})
		}
		mux, err := compileRoutes(templates)
		table := newRouteTable(routes)
		if err != nil {
			if len(table.conflicts) == 0 {
				t.Errorf("ServeMux refuses %q (%v), the table finds no conflict", templates, err)
			}
			continue
		}
		accepted++
		if len(table.conflicts) != 0 {
			t.Errorf("ServeMux accepts %q, the table reports %v", templates, table.conflicts)
		}
		p := &proxy{routes: mux}
		for _, r := range requests {
			if got, want := table.match(r), p.match(r); got != want {
				t.Fatalf("templates %q: %s %s labelled %q, ServeMux %q", templates, r.Method, r.URL.Path, got, want)
			}
		}
	}
	if accepted < 500 {
		t.Errorf("only %d sets accepted by ServeMux; the comparison proves little", accepted)
	}
}

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
	doc, _ := filepath.Abs(filepath.Join("testdata", "openapi", "conflicts.yaml"))
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
