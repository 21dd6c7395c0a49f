package routes

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
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
		if m := fast.Match(r); m != Template(got) {
			t.Fatalf("Match %q, pattern %q", m, got)
		}
	})
}
