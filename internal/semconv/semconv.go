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
