package routes

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadTestDocument(t *testing.T, name string) *apiDescription {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "openapi", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseOpenAPI(context.Background(), b)
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

// label is the pattern the table gives "METHOD target".
func label(table *Table, req string) string {
	method, target, _ := strings.Cut(req, " ")
	return table.pattern(httptest.NewRequest(method, target, nil))
}

// newTestTable builds the table of routes.
func newTestTable(t testing.TB, routes []tableRoute) *Table {
	t.Helper()
	tr, report, err := newTree(context.Background(), routes)
	if err != nil {
		t.Fatal(err)
	}
	return &Table{tree: tr, size: len(routes), conflicts: report}
}

// Each kind of document yields its operations as templates under the
// server's path, and concrete requests get the template ServeMux would
// pick.
func TestParseOpenAPI(t *testing.T) {
	everyMethod := func(tmpl string) []string {
		var out []string
		for _, m := range operationKeys {
			m = strings.ToUpper(m)
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
			table := newTestTable(t, d.routes)
			for req, want := range tc.labels {
				if got := label(table, req); got != want {
					t.Errorf("%s labelled %q, want %q", req, got, want)
				}
			}
			if c := table.Conflicts(); c.Count != tc.conflicts || len(c.First) != tc.conflicts || c.Incomplete {
				t.Errorf("%d conflicts, want %d: %v", c.Count, tc.conflicts, c)
			}
		})
	}
}

// The conflicts are reported as pairs with the winner first and a request
// both match, and that request is labelled with the winner.
func TestOpenAPIConflicts(t *testing.T) {
	table := newTestTable(t, loadTestDocument(t, "conflicts.yaml").routes)
	want := []Conflict{
		{"GET /a/b/{c}", "GET /a/{b}/c", "/a/b/c", ""},
		{"GET /a/b/{c}", "GET /{a}/b/c", "/a/b/c", ""},
		// The one path these two share goes to a third, more specific
		// template.
		{"GET /a/{b}/c", "GET /{a}/b/c", "/a/b/c", "GET /a/b/{c}"},
		{"GET /files/{fileId}", "GET /files/{name}", "/files/x", ""},
		{"GET /videos/characters/{character_id}", "GET /videos/{video_id}/content", "/videos/characters/content", ""},
	}
	if got := table.Conflicts().First; !slices.Equal(got, want) {
		t.Errorf("conflicts\n got %q\nwant %q", got, want)
	}
	for _, c := range table.Conflicts().First {
		if got := label(table, "GET "+c.Example); got != cmp.Or(c.TakenBy, c.Winner) {
			t.Errorf("%s labelled %q, want %q", c.Example, got, cmp.Or(c.TakenBy, c.Winner))
		}
	}
	// The outcome does not depend on the order of the document.
	routes := loadTestDocument(t, "conflicts.yaml").routes
	slices.Reverse(routes)
	if got := newTestTable(t, routes).Conflicts().First; !slices.Equal(got, want) {
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
			_, err := FromOpenAPI(context.Background(), []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cannot load the OpenAPI document: ") {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := FromOpenAPI(context.Background(), []byte(strings.Repeat(" ", MaxDocumentBytes+1)))
		if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Errorf("err %v", err)
		}
		if _, err := FromOpenAPI(context.Background(), []byte(strings.Repeat(" ", MaxDocumentBytes))); err == nil || !strings.Contains(err.Error(), "the document is empty") {
			t.Errorf("exactly 16 MiB: %v", err)
		}
	})
	t.Run("bad templates are left out, the rest loads", func(t *testing.T) {
		d, err := parseOpenAPI(context.Background(), []byte("openapi: 3.0.0\npaths:\n  /a/{b:\n    get: {}\n  /c/{d}:\n    get: {}\n  /e/{f}{g}:\n    get: {}\n  /h/{}:\n    get: {}\n"))
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
		mux, err := New(templates)
		table := newTestTable(t, routes)
		if err != nil {
			if table.Conflicts().Count == 0 {
				t.Errorf("ServeMux refuses %q (%v), the table finds no conflict", templates, err)
			}
			continue
		}
		accepted++
		if table.Conflicts().Count != 0 {
			t.Errorf("ServeMux accepts %q, the table reports %v", templates, table.Conflicts())
		}
		for _, r := range requests {
			if got, want := table.pattern(r), mux.pattern(r); got != want {
				t.Fatalf("templates %q: %s %s labelled %q, ServeMux %q", templates, r.Method, r.URL.Path, got, want)
			}
		}
	}
	if accepted < 500 {
		t.Errorf("only %d sets accepted by ServeMux; the comparison proves little", accepted)
	}
}
