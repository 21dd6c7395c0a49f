package routes

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/metricsbridge/metricsbridge/internal/semconv"
)

// route marks a pattern in the matcher mux; its string is the pattern.
type route string

func (route) ServeHTTP(http.ResponseWriter, *http.Request) {}

// compilePatterns builds a ServeMux used only to match patterns, so the
// label follows exactly the pattern rules operators know from net/http,
// conflicts included.
func compilePatterns(patterns []string) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, p := range patterns {
		if err := checkPattern(p); err != nil {
			return nil, err
		}
		if err := addRoute(mux, p); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// checkPattern refuses a pattern ServeMux accepts but that matches
// nothing its author meant: "api/v1/users/{id}" (no leading slash) is the
// path /v1/users/{id} on a host named "api", and "get /users" a method no
// client sends, since methods are case-sensitive. A host pattern is kept
// when its host looks like one: a dot, a port, or localhost.
func checkPattern(t string) error {
	method, rest := "", t
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		method, rest = t[:i], strings.TrimLeft(t[i:], " \t")
	}
	if i := semconv.MethodIndexFold(method); i > 0 && method != semconv.Methods[i] {
		return patternError(fmt.Sprintf("route %q: HTTP methods are case-sensitive, so %s matches no request; want %s", t, method, semconv.Methods[i]))
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return nil // a path, or no slash at all, which ServeMux refuses itself
	}
	host := rest[:slash]
	if host == "localhost" || strings.ContainsAny(host, ".:[") {
		return nil
	}
	want := "/" + rest
	if method != "" {
		want = method + " " + want
	}
	return patternError(fmt.Sprintf("route %q: a template starts with / (after an optional method); without it %q is read as a host name and the template matches only requests for that host; did you mean %q?", t, host, want))
}

// patternError names the pattern at fault; it wraps ErrPattern.
type patternError string

func (e patternError) Error() string { return string(e) }
func (e patternError) Unwrap() error { return ErrPattern }

var registeredAt = regexp.MustCompile(` \(registered at [^)]*\)`)

// addRoute turns ServeMux's panic on a bad or conflicting pattern into an
// error.
func addRoute(mux *http.ServeMux, t string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// ServeMux explains a conflict over several lines and names
			// the source lines that registered each pattern; an error
			// is one line about the caller's patterns.
			msg := registeredAt.ReplaceAllString(fmt.Sprint(p), "")
			err = patternError(fmt.Sprintf("route %q: %s", t, strings.Join(strings.Fields(msg), " ")))
		}
	}()
	if strings.ContainsAny(t, "\r\n\t") {
		return patternError(fmt.Sprintf("route %q: control characters", t))
	}
	mux.Handle(t, route(t))
	return nil
}

// fallback is registered under "/" beside the patterns, so a request none
// of them matches ends at once on the least specific pattern instead of
// ServeMux working out a redirect or the allowed methods of a 405, which
// costs several allocations. It is no route, so the label is "" either
// way.
type fallback struct{}

func (fallback) ServeHTTP(http.ResponseWriter, *http.Request) {}

// addFallback registers fallback unless the patterns already cover "/"
// (a "/" or "/{path...}" of the caller's own).
func addFallback(mux *http.ServeMux) {
	defer func() { _ = recover() }()
	mux.Handle("/", fallback{})
}

// firstSegments returns the literal first path segments of the
// patterns, or nil when one of them names a host, has an empty first
// segment, starts with a wildcard or has an escaped slash there, where the
// first segment of Request.URL.Path says nothing.
func firstSegments(patterns []string) map[string]bool {
	firsts := map[string]bool{}
	for _, t := range patterns {
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			t = strings.TrimLeft(t[i:], " \t")
		}
		if !strings.HasPrefix(t, "/") {
			return nil // a host pattern
		}
		seg := firstSegment(t)
		switch {
		case seg == "{$}": // the root alone
			seg = ""
		case seg == "" || strings.ContainsAny(seg, "{}%"):
			// An empty first segment ("/", "//") is a subtree that
			// ServeMux matches under any first segment.
			return nil
		}
		firsts[seg] = true
	}
	return firsts
}

// firstSegment is what lies between the first and the second slash.
func firstSegment(path string) string {
	if path == "" {
		return ""
	}
	seg, _, _ := strings.Cut(path[1:], "/")
	return seg
}
