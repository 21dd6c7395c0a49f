// Package semconv holds the vocabulary of the OpenTelemetry HTTP semantic
// conventions that several of the module's packages share, so that each
// fact is written once.
package semconv

import "strings"

// Route turns a ServeMux pattern, "[METHOD ][HOST]/path", into the value
// of http.route: its path. A template that is already a path is returned
// as it is; one with no path gives "".
func Route(pattern string) string {
	i := strings.IndexByte(pattern, '/')
	if i < 0 {
		return ""
	}
	return pattern[i:]
}

// MethodOther is http.request.method for any method that is not standard,
// so bogus methods cannot add series.
const MethodOther = "_OTHER"

// Methods are the values of http.request.method: the standard methods,
// and at index 0 MethodOther.
var Methods = [...]string{MethodOther, "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// MethodIndex returns the index in Methods of m, any case, or 0.
func MethodIndex(m string) int {
	switch m { // the common, already upper-case spellings first
	case "GET":
		return 1
	case "POST":
		return 3
	}
	for i := 1; i < len(Methods); i++ {
		if len(m) == len(Methods[i]) && equalFoldASCII(m, Methods[i]) {
			return i
		}
	}
	return 0
}

// Method returns the http.request.method value of m.
func Method(m string) string { return Methods[MethodIndex(m)] }

// equalFoldASCII compares a with the upper-case b, folding ASCII only:
// HTTP methods are ASCII tokens, and a Unicode fold would take "POſT"
// for POST.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}
