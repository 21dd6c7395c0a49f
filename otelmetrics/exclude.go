package otelmetrics

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// excluder matches METRICS_EXCLUDED_HANDLERS against a path or template.
// The raw path is checked on every request, so patterns that are plain
// text, anchored at both ends ("^/health$", as serve's default) or not
// ("/metrics"), are compared as strings: the regexp engine takes about
// 400 ns for two anchored literals, longer than the rest of the
// middleware. Anything else goes to one joined regexp.
type excluder struct {
	exact    []string
	contains []string
	re       *regexp.Regexp // nil: no other pattern
}

// newExcluder returns nil for an empty list. The patterns are valid: the
// configuration was validated before.
func newExcluder(patterns []string) *excluder {
	if len(patterns) == 0 {
		return nil
	}
	e := &excluder{}
	var rest []string
	for _, p := range patterns {
		lit, anchored, ok := literal(p)
		switch {
		case !ok:
			rest = append(rest, p)
		case anchored:
			e.exact = append(e.exact, lit)
		default:
			e.contains = append(e.contains, lit)
		}
	}
	if len(rest) > 0 {
		e.re, _ = compileExcluded(rest)
	}
	return e
}

// literal reports whether p matches exactly one string, anywhere in the
// text or, anchored, the whole text.
func literal(p string) (lit string, anchored, ok bool) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return "", false, false
	}
	re = re.Simplify()
	isLit := func(r *syntax.Regexp) bool { return r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 }
	switch {
	case isLit(re):
		return string(re.Rune), false, true
	case re.Op == syntax.OpConcat && len(re.Sub) == 3 &&
		re.Sub[0].Op == syntax.OpBeginText && isLit(re.Sub[1]) && re.Sub[2].Op == syntax.OpEndText:
		return string(re.Sub[1].Rune), true, true
	}
	return "", false, false
}

func (e *excluder) MatchString(s string) bool {
	for _, x := range e.exact {
		if s == x {
			return true
		}
	}
	for _, x := range e.contains {
		if strings.Contains(s, x) {
			return true
		}
	}
	return e.re != nil && e.re.MatchString(s)
}
