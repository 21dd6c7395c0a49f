package dashboard

import (
	"embed"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy is sent with the page, its files and the summary:
// nothing but the bridge's own script, style and data, no inline code, no
// framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var assets = map[string]string{
	"dashboard":     "text/html; charset=utf-8",
	"dashboard.js":  "text/javascript; charset=utf-8",
	"dashboard.css": "text/css; charset=utf-8",
	"icon.svg":      "image/svg+xml",
}

func secure(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// PageHandler serves the page at any path ending in /dashboard and its
// script, style sheet and icon below it (dashboard/dashboard.js, ...); mount
// it at both "GET /x/dashboard" and "GET /x/dashboard/". The page is the
// same bytes for everyone and holds no data: every number comes from the
// summary, fetched with the bearer token the page asks for and keeps in
// the tab's sessionStorage. The page fetches the summary by the relative URL
// "summary", so the two are mounted as siblings: metricsbridge serves them
// at /metrics/dashboard and /metrics/summary.
func PageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		ctype, ok := assets[name]
		if name == "dashboard" && strings.HasSuffix(r.URL.Path, "/") {
			// The page's relative URLs need it without the slash;
			// net/http resolves and escapes the relative Location.
			http.Redirect(w, r, "../dashboard", http.StatusMovedPermanently)
			return
		}
		if !ok || name == "dashboard" && path.Base(path.Dir(r.URL.Path)) == "dashboard" {
			http.NotFound(w, r)
			return
		}
		file := name
		if name == "dashboard" {
			file = "index.html"
		}
		body, err := static.ReadFile("static/" + file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		secure(h)
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}

// SummaryHandler serves Summary as JSON. Authentication wraps it from
// outside, as it does the scrape endpoint.
func (d *Dashboard) SummaryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, err := d.summaryJSON()
		if err != nil {
			http.Error(w, `{"error":"summary could not be encoded"}`, http.StatusInternalServerError)
			return
		}
		h := w.Header()
		secure(h)
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}
