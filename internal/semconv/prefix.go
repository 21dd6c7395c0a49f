package semconv

import (
	"errors"
	"fmt"
	"strings"
)

// Prefix returns "<ns>_<sub>_" for the given namespace and subsystem, where
// a namespace of "" or "default" contributes nothing.
//
// A part must be a Prometheus name that the exporter's OTel-to-Prometheus
// translation leaves alone, so the series carry exactly the prefix asked
// for: the translation splits names at underscores and drops empty words,
// removes the word "total" before appending _total to counters, and omits
// the _seconds suffix of a histogram that already has the word "seconds".
func Prefix(namespace, subsystem string) (string, error) {
	var parts []string
	for _, p := range []struct{ what, v string }{{"namespace", namespace}, {"subsystem", subsystem}} {
		if p.v == "" || (p.what == "namespace" && p.v == "default") {
			continue
		}
		if err := CheckNamePart(p.v); err != nil {
			return "", fmt.Errorf("%s %q: %w", p.what, p.v, err)
		}
		parts = append(parts, p.v)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "_") + "_", nil
}

// Reasons CheckNamePart gives.
var (
	errNameSyntax      = errors.New("want a name matching [a-zA-Z_][a-zA-Z0-9_]*")
	errNameUnderscores = errors.New("leading, trailing or repeated underscores would be collapsed in the series names; separate words with single underscores")
)

// CheckNamePart reports why v cannot be a namespace or subsystem, or nil.
func CheckNamePart(v string) error {
	if !validNamePart(v) {
		return errNameSyntax
	}
	if strings.HasPrefix(v, "_") || strings.HasSuffix(v, "_") || strings.Contains(v, "__") {
		return errNameUnderscores
	}
	for _, word := range strings.Split(v, "_") {
		if word == "total" || word == "seconds" {
			return fmt.Errorf("the word %q would be removed from or change the series names", word)
		}
	}
	return nil
}

func validNamePart(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
