package routes

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/metricsbridge/metricsbridge/internal/semconv"
)

// FuzzRoutes feeds arbitrary route lists and requests to the matcher:
// building it may fail with an error, never a panic, and a request is
// labelled with one of the configured templates or with nothing.
func FuzzRoutes(f *testing.F) {
	for _, seed := range []struct{ routes, method, path string }{
		{"POST /tools/invoke,GET /servers/{id}/sse", "GET", "/servers/42/sse"},
		{"/a/{x},/{y}/b", "GET", "/a/b"},
		{"/files/{path...},/{$}", "DELETE", "/files/a/b/c"},
		{"GET example.com/x", "HEAD", "/x"},
		{"/servers/{id/sse", "GET", "/servers/1/sse"},
		{"/a/", "GET", "/a"},
		{"/é/{ü}", "PUT", "/%C3%A9/x"},
		{"/", "CONNECT", ""},
	} {
		f.Add(seed.routes, seed.method, seed.path)
	}
	f.Fuzz(func(t *testing.T, routes, method, path string) {
		templates := strings.Split(routes, ",")
		mux, err := compilePatterns(templates)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "route ") || strings.Contains(err.Error(), "registered at") || !errors.Is(err, ErrPattern) {
				t.Fatalf("error %q", err)
			}
			return
		}
		plain := &Table{mux: mux}
		r := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "example.com", Header: http.Header{}}
		got := plain.pattern(r)
		if got != "" && !slices.Contains(templates, got) {
			t.Fatalf("matched %q, not one of %q", got, templates)
		}
		// The shortcuts of New change nothing but the cost.
		fast, err := New(templates)
		if err != nil {
			t.Fatal(err)
		}
		if fast := fast.pattern(r); fast != got {
			t.Fatalf("templates %q, %s %q: %q with the shortcuts, %q without", templates, method, path, fast, got)
		}
		if m := fast.Match(r); m != semconv.Route(got) {
			t.Fatalf("Match %q, pattern %q", m, got)
		}
	})
}

// FuzzOpenAPI loads arbitrary documents: a load may fail with an error,
// never panic, and what it allocates stays in proportion to the
// document's size, whatever references, server variables, aliases or
// overlapping templates it holds.
func FuzzOpenAPI(f *testing.F) {
	for _, name := range []string{"api-3.1.json", "conflicts.yaml", "petstore-3.0.yaml", "swagger-2.0.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "openapi", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, seed := range []string{
		"openapi: 3.0.0\nservers: [{url: '/{a}', variables: {a: {default: '{b}{b}'}, b: {default: '{a}{a}'}}}]\npaths: {/x: {get: {}}}\n",
		"openapi: 3.0.0\npaths:\n  /a: {$ref: '#/paths/~1b'}\n  /b: {$ref: '#/paths/~1a'}\n",
		"a: &a [x,x,x]\nb: &b [*a,*a,*a]\nopenapi: 3.1.0\npaths: {/r/{x}-{y}.csv: {get: {}}}\n",
		`{"swagger": "2.0", "basePath": "/v2", "paths": {"/p/{a}": {"get": {}}, "/{b}/q": {"get": {}}}}`,
		"a: &x [*x]\nopenapi: 3.0.0\npaths: {/a: {get: {}}}\n",
		"a: &x {b: [1, &y {c: *x}]}\nopenapi: 3.0.0\npaths: {/a: {get: {}}}\n",
	} {
		f.Add([]byte(seed))
	}
	if fuzz := flag.Lookup("test.fuzz"); fuzz == nil || fuzz.Value.String() == "" {
		// A few MB of comment once let a self-referencing anchor recurse
		// until the stack overflowed, killing the process. Only go test
		// runs it: mutating and minimizing a 3 MB input would slow the
		// fuzzer to a crawl.
		f.Add([]byte("a: &x [*x]\n" + strings.Repeat("#"+strings.Repeat(" ", 62)+"\n", 3<<20/64) + "openapi: 3.0.0\npaths: {/a: {get: {}}}\n"))
	}
	// Comments add nothing to what a document holds, so they may not
	// change whether it loads: a budget counted in bytes would.
	padding := []byte(strings.Repeat("#"+strings.Repeat(" ", 62)+"\n", 64<<10/64))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if yamlWithAliases(doc) {
			padded, err := FromOpenAPI(context.Background(), append(slices.Clip(padding), doc...))
			plain, plainErr := FromOpenAPI(context.Background(), doc)
			if (err == nil) != (plainErr == nil) || err == nil && (padded.Len() != plain.Len() || padded.Version() != plain.Version()) {
				t.Fatalf("a leading comment changes the load: %v, without it %v", err, plainErr)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		table, err := FromOpenAPI(context.Background(), doc)
		runtime.ReadMemStats(&after)
		if err != nil {
			if !errors.Is(err, ErrDocument) {
				t.Fatalf("error %v does not wrap ErrDocument", err)
			}
			return
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20+uint64(4096*len(doc)) {
			t.Fatalf("%d bytes allocated for a document of %d", a, len(doc))
		}
		if c := table.Conflicts(); len(c.First) > maxReportedConflicts || c.Count < len(c.First) {
			t.Fatalf("report %v", c)
		}
		if len(table.Notes()) > maxNotes+1 {
			t.Fatalf("%d notes", len(table.Notes()))
		}
	})
}

// yamlWithAliases reports whether doc is read as YAML and has an alias.
func yamlWithAliases(doc []byte) bool {
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] != '{' && !bytes.HasPrefix(doc, []byte("\xef\xbb\xbf")) && bytes.IndexByte(doc, '*') >= 0
}

// FuzzMatch matches arbitrary paths against arbitrary templates: the
// answer is one of the templates or nothing, and the work is at most the
// path's length times the table's match factor, which is at most
// maxMatchFactor whatever the number of templates: a matcher that
// backtracks inside a segment or revisits a node exceeds it, and so does
// a table the load should have refused.
func FuzzMatch(f *testing.F) {
	for _, seed := range []struct{ templates, path string }{
		{"/reports/{y}-{m}-{d}.csv,/range/{a}-{b}.json", "/reports/" + strings.Repeat("-", 200)},
		{"/a/{b}/c,/{a}/b/{c},/a/b/{c}", "/a/b/c"},
		{"/{a}.{b}.{c}/x,/{a}/{b}", "/" + strings.Repeat(".", 100) + "/x"},
		{"/x/{a}y{b}y{c}", "/x/yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},
		{"/f/{a}xy{b}.v1,/f/{a}xy{b}.v2,/f/{a}xy{b}.v3,/f/{a}x{b}.v1,/f/{a}.v1,/f/{a}", "/f/" + strings.Repeat("xy", 100) + ".v4"},
		{"/a/b/c,/a/b/{c},/a/{b}/c,/a/{b}/{c},/{a}/b/c,/{a}/b/{c},/{a}/{b}/c,/{a}/{b}/{c}", "/a/b/d"},
	} {
		f.Add(seed.templates, seed.path)
	}
	f.Fuzz(func(t *testing.T, templates, path string) {
		var routes []tableRoute
		for _, tmpl := range strings.Split(templates, ",") {
			segs, err := parseTemplate(tmpl)
			if err != nil {
				continue
			}
			routes = append(routes, tableRoute{method: "GET", template: tmpl, segs: segs})
		}
		tr, _, err := newTree(context.Background(), routes)
		if err != nil {
			if !errors.Is(err, ErrDocument) {
				t.Fatal(err)
			}
			return
		}
		r, err := http.NewRequest("GET", "http://h"+path, nil)
		if err != nil || r.URL.Path != path && r.URL.RawPath == "" {
			return
		}
		var work int
		got := tr.match(r, &work)
		if got != "" && !slices.ContainsFunc(routes, func(rt tableRoute) bool { return rt.pattern() == got }) {
			t.Fatalf("matched %q, not one of %q", got, templates)
		}
		if tr.factor > maxMatchFactor {
			t.Fatalf("match factor %d", tr.factor)
		}
		if limit := (len(r.URL.EscapedPath()) + 1) * tr.factor; work > limit {
			t.Fatalf("work %d for a path of %d and %d templates (limit %d)", work, len(path), len(routes), limit)
		}
	})
}

// FuzzServeMuxAgreement compares the table FromOpenAPI builds from
// arbitrary templates of literal segments and whole-segment parameters
// with a real ServeMux holding the same patterns, on arbitrary paths:
// whenever ServeMux accepts the patterns, both label the request alike.
func FuzzServeMuxAgreement(f *testing.F) {
	for _, in := range []struct{ routes, method, path string }{
		{"/x/{id},/x/a%2Fb", "GET", "/x/%2E%2E"},
		{"/x/{id}", "GET", "/x/%2e"},
		{"/x/a%2Fb,POST /x/{id}", "POST", "/x/a%2fb"},
		{"/a/,/a/{b}", "HEAD", "/a/%2F"},
		{"/%C3%A9/{x},/é/y", "GET", "/%C3%A9/y"},
		{"/x/%2E%2E/{y},/{a}/{b}/c", "GET", "/x/%2E%2E/c"},
		{"/a%00/{x}", "PUT", "/a%00/%25"},
	} {
		f.Add(in.routes, in.method, in.path)
	}
	f.Fuzz(func(t *testing.T, routes, method, path string) {
		var list []string
		seen := map[string]bool{}
		for _, r := range strings.Split(routes, ",") {
			m, tmpl, ok := strings.Cut(r, " ")
			if !ok {
				m, tmpl = "GET", r
			}
			if !slices.Contains(operationKeys[:], strings.ToLower(m)) || m != strings.ToUpper(m) || !wholeSegmentTemplate(tmpl) {
				continue
			}
			if r := m + " " + tmpl; !seen[r] {
				seen[r] = true
				list = append(list, r)
			}
		}
		if len(list) == 0 || len(list) > 64 {
			return
		}
		r, err := http.NewRequest(method, "http://h"+path, nil)
		if err != nil {
			return
		}
		a, ok := newMuxAgreement(t, list)
		if !ok {
			return
		}
		a.check(t, list, r)
	})
}

// wholeSegmentTemplate reports whether t is a template both ServeMux and
// the table read as literal segments and whole-segment parameters: no
// control characters or spaces, and every brace a "{name}" segment with a
// name ServeMux takes, each name once.
func wholeSegmentTemplate(t string) bool {
	// A document is UTF-8 text: JSON would carry invalid bytes as U+FFFD,
	// merging templates ServeMux keeps apart.
	if !strings.HasPrefix(t, "/") || !utf8.ValidString(t) || strings.ContainsFunc(t, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return false
	}
	names := map[string]bool{}
	for _, seg := range strings.Split(t[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name, open := strings.CutPrefix(seg, "{")
		name, closed := strings.CutSuffix(name, "}")
		if !open || !closed || names[name] || !identifier(name) {
			return false
		}
		names[name] = true
	}
	return true
}

// identifier reports whether s is a Go identifier, as ServeMux wants a
// wildcard's name.
func identifier(s string) bool {
	for i, c := range s {
		if !unicode.IsLetter(c) && c != '_' && (i == 0 || !unicode.IsDigit(c)) {
			return false
		}
	}
	return s != ""
}
