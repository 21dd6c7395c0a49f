package routes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// largeAPI is an API of 1,000 operations: 100 resources with the ten
// operations a CRUD resource with a sub-collection has. It returns the
// templates as --routes would list them, the same API as OpenAPI 3.0
// documents (JSON and YAML), and one concrete request per operation.
func largeAPI(tb testing.TB) (routes []string, jsonDoc, yamlDoc []byte, requests []*http.Request) {
	tb.Helper()
	paths := map[string]map[string]any{}
	op := func(method, tmpl, concrete string) {
		routes = append(routes, method+" "+tmpl)
		if paths[tmpl] == nil {
			paths[tmpl] = map[string]any{"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true}}}
		}
		paths[tmpl][strings.ToLower(method)] = map[string]any{
			"operationId": strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "").Replace(tmpl),
			"responses":   map[string]any{"200": map[string]any{"description": "ok", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}},
		}
		requests = append(requests, httptest.NewRequest(method, "/api"+concrete, nil))
	}
	for i := range 100 {
		r := fmt.Sprintf("/resource%d", i)
		op("GET", r, r)
		op("POST", r, r)
		op("GET", r+"/{id}", r+"/12345")
		op("PUT", r+"/{id}", r+"/12345")
		op("PATCH", r+"/{id}", r+"/12345")
		op("DELETE", r+"/{id}", r+"/12345")
		op("GET", r+"/{id}/items", r+"/12345/items")
		op("POST", r+"/{id}/items", r+"/12345/items")
		op("GET", r+"/{id}/items/{itemId}", r+"/12345/items/7")
		op("DELETE", r+"/{id}/items/{itemId}", r+"/12345/items/7")
	}
	for i, r := range routes {
		m, p, _ := strings.Cut(r, " ")
		routes[i] = m + " /api" + p
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "large", "version": "1"},
		"servers": []any{map[string]any{"url": "https://api.example.com/api"}},
		"paths":   paths,
	}
	var err error
	if jsonDoc, err = json.Marshal(doc); err != nil {
		tb.Fatal(err)
	}
	if yamlDoc, err = yaml.Marshal(doc); err != nil {
		tb.Fatal(err)
	}
	return routes, jsonDoc, yamlDoc, requests
}

// The 1,000 operations load as 1,000 templates without conflicts, and the
// table labels each request as ServeMux with the same patterns does.
func TestLargeAPI(t *testing.T) {
	routes, jsonDoc, yamlDoc, requests := largeAPI(t)
	explicit, err := New(routes)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{jsonDoc, yamlDoc} {
		table, err := FromOpenAPI(context.Background(), doc)
		if err != nil {
			t.Fatal(err)
		}
		if table.Len() != 1000 || table.Conflicts().Count != 0 || len(table.Notes()) != 0 {
			t.Fatalf("%d templates, conflicts %v, notes %v", table.Len(), table.Conflicts(), table.Notes())
		}
		for _, r := range requests {
			if got, want := table.pattern(r), explicit.pattern(r); got != want || got == "" {
				t.Fatalf("%s %s: %q, ServeMux %q", r.Method, r.URL.Path, got, want)
			}
		}
	}
}

// BenchmarkOpenAPILoad parses a 1,000-operation document and builds its
// route table, conflict check included: what start-up and each reload
// cost besides the fetch.
func BenchmarkOpenAPILoad(b *testing.B) {
	_, jsonDoc, yamlDoc, _ := largeAPI(b)
	for _, bc := range []struct {
		name string
		doc  []byte
	}{{"json", jsonDoc}, {"yaml", yamlDoc}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.doc)))
			b.ReportAllocs()
			for b.Loop() {
				table, err := FromOpenAPI(context.Background(), bc.doc)
				if err != nil {
					b.Fatal(err)
				}
				if table.Len() != 1000 {
					b.Fatal("wrong size")
				}
			}
		})
	}
}

// BenchmarkRouteMatch labels requests spread over 1,000 operations, once
// with the templates as ServeMux patterns (New) and once from the OpenAPI
// document (FromOpenAPI); and the document with two patterns in front, as
// the binary's proxy looks up --routes before --openapi, so every request
// is looked up in both.
func BenchmarkRouteMatch(b *testing.B) {
	routes, jsonDoc, _, requests := largeAPI(b)
	withPatterns, err := New(routes)
	if err != nil {
		b.Fatal(err)
	}
	withOpenAPI, err := FromOpenAPI(context.Background(), jsonDoc)
	if err != nil {
		b.Fatal(err)
	}
	few, err := New([]string{"GET /healthz", "POST /internal/{op}"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		match func(*http.Request) string
	}{
		{"patterns", withPatterns.Match},
		{"openapi", withOpenAPI.Match},
		{"openapi+2patterns", func(r *http.Request) string {
			if t := few.Match(r); t != "" {
				return t
			}
			return withOpenAPI.Match(r)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if bc.match(requests[i]) == "" {
					b.Fatal("no match")
				}
				if i++; i == len(requests) {
					i = 0
				}
			}
		})
	}
}

// A table from FromOpenAPI labels a request whose path has no escapes
// without allocating; one with escapes costs the split of its path.
func TestMatchAllocs(t *testing.T) {
	_, jsonDoc, _, _ := largeAPI(t)
	table, err := FromOpenAPI(context.Background(), jsonDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		target string
		max    float64
	}{
		{"plain", "/api/resource42/12345/items/7", 0},
		{"escaped", "/api/resource42/a%2Fb/items/7", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			if table.Match(r) == "" {
				t.Fatal("no match")
			}
			if a := testing.AllocsPerRun(100, func() { table.Match(r) }); a > tc.max {
				t.Errorf("%.0f allocations, want at most %.0f", a, tc.max)
			}
		})
	}
}
