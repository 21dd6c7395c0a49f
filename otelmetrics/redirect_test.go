package otelmetrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// The redirects a ServeMux makes itself, to the clean path or to the path
// with a trailing slash, are handler="none", as a 404 is: no handler ran,
// and the client's next request, to the path redirected to, is the one
// the template counts. Otherwise the template would count every such
// request twice. chi and the other routers answer these paths with a 404,
// also none. Redirects a handler makes keep its template, including one
// from the subtree of a pattern that a redirect of the mux's would carry.
func TestServeMuxRedirectsAreNone(t *testing.T) {
	noop := func(http.ResponseWriter, *http.Request) {}
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", noop)
	mux.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/static/old" {
			redirect(w, r)
		}
	})
	mux.HandleFunc("GET /files/{path...}", redirect)
	mux.HandleFunc("GET /exact/{$}", noop)
	mux.HandleFunc("GET /a/{id}/", redirect)
	mux.Handle("GET /login", http.RedirectHandler("/sso", http.StatusTemporaryRedirect))

	traffic := []sent{
		{"GET", "//users/1", 307},        // to /users/1
		{"GET", "/x/../users/1", 307},    // to /users/1
		{"GET", "/static", 307},          // to /static/
		{"POST", "/static", 307},         // to /static/
		{"GET", "/files", 307},           // to /files/
		{"GET", "/exact", 307},           // to /exact/
		{"GET", "/a/5", 307},             // to /a/5/
		{"GET", "/a/6", 307},             // to /a/6/: never a raw path as the label
		{"GET", "/users/1", 200},         // the handler
		{"GET", "/static/old", 307},      // the handler's redirect
		{"GET", "/files/x", 307},         // the handler's redirect
		{"GET", "/files/", 307},          // the handler's redirect
		{"GET", "/a/5/", 307},            // the handler's redirect
		{"GET", "/login", 307},           // a registered RedirectHandler
		{"GET", "/exact/", 200},          // the handler
		{"GET", "/nowhere", 404},         //
		{"DELETE", "/users/1", 405},      //
		{"GET", "/static/../login", 307}, // to /login
	}
	want := map[routertest.Series]float64{
		{Method: "GET", Handler: "none", Status: "307"}:             8,
		{Method: "POST", Handler: "none", Status: "307"}:            1,
		{Method: "GET", Handler: "/users/{id}", Status: "200"}:      1,
		{Method: "GET", Handler: "/static/", Status: "307"}:         1,
		{Method: "GET", Handler: "/files/{path...}", Status: "307"}: 2,
		{Method: "GET", Handler: "/a/{id}/", Status: "307"}:         1,
		{Method: "GET", Handler: "/login", Status: "307"}:           1,
		{Method: "GET", Handler: "/exact/{$}", Status: "200"}:       1,
		{Method: "GET", Handler: "none", Status: "404"}:             1,
		{Method: "DELETE", Handler: "none", Status: "405"}:          1,
	}
	for _, tc := range []struct {
		name string
		wrap func(p *otelmetrics.Provider) http.Handler
	}{
		{"middleware around the mux", func(p *otelmetrics.Provider) http.Handler { return p.Middleware(mux) }},
		{"RoutePattern, nothing between", func(p *otelmetrics.Provider) http.Handler { return p.Middleware(otelmetrics.RoutePattern(mux)) }},
		{"RoutePattern behind a request copy", func(p *otelmetrics.Provider) http.Handler {
			return p.Middleware(routertest.RequestID(otelmetrics.RoutePattern(mux)))
		}},
		{"RoutePattern under a timeout", func(p *otelmetrics.Provider) http.Handler {
			return p.Middleware(http.TimeoutHandler(otelmetrics.RoutePattern(mux), 10e9, "timeout"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := routertest.NewProvider(t)
			driveNoFollow(t, tc.wrap(p), traffic)
			routertest.Get(t, p.MetricsHandler()).Check(t, want)
		})
	}
}

// sent is one request of a test's traffic and the status it must get.
type sent struct {
	method, path string
	status       int
}

// driveNoFollow sends the requests in order to h on a loopback server,
// without following redirects, failing the test on a status other than
// the one wanted.
func driveNoFollow(t *testing.T, h http.Handler, reqs []sent) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, rq := range reqs {
		req, err := http.NewRequest(rq.method, srv.URL+rq.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rq.status {
			t.Errorf("%s %s: status %d, want %d", rq.method, rq.path, resp.StatusCode, rq.status)
		}
	}
}
