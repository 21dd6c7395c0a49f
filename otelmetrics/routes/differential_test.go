package routes

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// muxAgreement compares the table FromOpenAPI builds from templates
// with a real http.ServeMux holding the same patterns, request by
// request. A template's trailing slash is the path with that slash alone
// in the table, "{$}" in ServeMux, where a bare trailing slash would
// match a whole subtree. It returns false when ServeMux refuses the
// patterns together, which leaves nothing to compare.
type muxAgreement struct {
	table *Table
	mux   *Table // the plain ServeMux, without New's shortcuts
}

// newMuxAgreement builds both from "METHOD /template" routes: templates
// of literal segments and whole-segment parameters, which both accept.
func newMuxAgreement(t testing.TB, routes []string) (muxAgreement, bool) {
	t.Helper()
	ops := map[string]map[string]any{}
	var patterns []string
	for _, r := range routes {
		method, tmpl, _ := strings.Cut(r, " ")
		if ops[tmpl] == nil {
			ops[tmpl] = map[string]any{}
		}
		ops[tmpl][strings.ToLower(method)] = map[string]any{}
		if strings.HasSuffix(tmpl, "/") {
			tmpl += "{$}"
		}
		patterns = append(patterns, method+" "+tmpl)
	}
	mux, err := compilePatterns(patterns)
	if err != nil {
		return muxAgreement{}, false
	}
	doc, err := json.Marshal(map[string]any{"openapi": "3.0.3", "paths": ops})
	if err != nil {
		t.Fatal(err)
	}
	table, err := FromOpenAPI(context.Background(), doc)
	if err != nil {
		t.Fatalf("routes %q: %v", routes, err)
	}
	if table.Len() != len(routes) || len(table.Notes()) != 0 {
		t.Fatalf("routes %q: %d templates loaded, notes %q", routes, table.Len(), table.Notes())
	}
	return muxAgreement{table: table, mux: &Table{mux: mux}}, true
}

// check fails when the two label r differently.
func (a muxAgreement) check(t testing.TB, routes []string, r *http.Request) {
	t.Helper()
	want := strings.TrimSuffix(a.mux.pattern(r), "{$}")
	if got := a.table.pattern(r); got != want {
		t.Errorf("routes %q: %s %s (escaped %s) labelled %q, ServeMux %q", routes, r.Method, r.URL.Path, r.URL.EscapedPath(), got, want)
	}
}

// Tables from random template sets label random paths, escaped in every
// way ServeMux treats alike or apart, as ServeMux does.
func TestOpenAPIAgreesWithServeMuxOnEscapedPaths(t *testing.T) {
	templateSegs := []string{"a", "b", "{p}", "{p}", "a%2Fb", "%61", "%2E%2E", "%2e", "%C3%A9", "é", "%25", "a%00"}
	pathSegs := []string{"a", "b", "c", "%61", "%2E", "%2e", "%2E%2E", "%2e%2E", ".", "..", "", "a%2Fb", "a%2fb", "%2F",
		"%C3%A9", "é", "%25", "%2525", "%00", "a%00", "x%20y", "%zz"}
	rng := rand.New(rand.NewPCG(8, 8))
	accepted, compared := 0, 0
	for range 2000 {
		var routes []string
		seen := map[string]bool{}
		for range 1 + rng.IntN(5) {
			var b strings.Builder
			for i := range 1 + rng.IntN(3) {
				s := templateSegs[rng.IntN(len(templateSegs))]
				b.WriteString("/" + strings.ReplaceAll(s, "{p}", "{p"+string(rune('0'+i))+"}"))
			}
			if rng.IntN(4) == 0 {
				b.WriteString("/")
			}
			r := []string{"GET", "POST"}[rng.IntN(2)] + " " + b.String()
			if !seen[r] {
				seen[r] = true
				routes = append(routes, r)
			}
		}
		a, ok := newMuxAgreement(t, routes)
		if !ok {
			continue
		}
		accepted++
		for range 40 {
			var b strings.Builder
			for range 1 + rng.IntN(4) {
				b.WriteString("/" + pathSegs[rng.IntN(len(pathSegs))])
			}
			if rng.IntN(4) == 0 {
				b.WriteString("/")
			}
			r, err := http.NewRequest([]string{"GET", "HEAD", "POST"}[rng.IntN(3)], "http://h"+b.String(), nil)
			if err != nil {
				continue
			}
			compared++
			a.check(t, routes, r)
		}
		if t.Failed() {
			return
		}
	}
	if accepted < 500 || compared < 10000 {
		t.Errorf("%d sets accepted by ServeMux, %d requests compared; the comparison proves little", accepted, compared)
	}
}
