package main

import (
	"fmt"
	"net/http"
	"strings"
)

// checkRouteTemplate refuses a template ServeMux accepts but that matches
// nothing an operator meant: "api/v1/users/{id}" (no leading slash) is the
// path /v1/users/{id} on a host named "api", and "get /users" a method no
// client sends, since methods are case-sensitive. A host pattern is kept
// when its host looks like one: a dot, a port, or localhost.
func checkRouteTemplate(t string) error {
	method, rest := "", t
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		method, rest = t[:i], strings.TrimLeft(t[i:], " \t")
	}
	if method != "" {
		for _, m := range standardMethods {
			if strings.EqualFold(method, m) && method != m {
				return fmt.Errorf("route %q: HTTP methods are case-sensitive, so %s matches no request; want %s", t, method, m)
			}
		}
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
	return fmt.Errorf("route %q: a template starts with / (after an optional method); without it %q is read as a host name and the template matches no request to this proxy; did you mean %q?", t, host, want)
}

var standardMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

// compileCheckedRoutes is compileRoutes after checkRouteTemplate.
func compileCheckedRoutes(templates []string) error {
	for _, t := range templates {
		if err := checkRouteTemplate(t); err != nil {
			return err
		}
	}
	_, err := compileRoutes(templates)
	return err
}
