package main

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// routeTable labels requests with the route templates of an API
// description. Unlike http.ServeMux it accepts every set of templates:
// where two overlap without one being more specific, which ServeMux
// refuses to register, the one with a literal segment at the first
// position where they differ wins, left to right. That is the order
// ServeMux itself searches in, so for any set ServeMux accepts both give
// the same answer.
type routeTable struct {
	roots [len(tableMethods)]*routeNode
	// size is the number of operations the table was built from.
	size int
	// conflicts are the pairs ServeMux would have refused, with the
	// winner first.
	conflicts []routeConflict
	// conflictsIncomplete is set when the document was too large to
	// compare every pair within conflictBudget.
	conflictsIncomplete bool
}

// tableMethods are the methods an OpenAPI operation can have.
var tableMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

const (
	mGet  = 0
	mHead = 1
)

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	case "TRACE":
		return 7
	}
	return -1
}

// segment kinds, in the order they are tried: a literal beats a segment
// mixing text and parameters, which beats a whole-segment parameter.
const (
	segLiteral = iota
	segMixed
	segWild
)

// segment is one path segment of a template.
type segment struct {
	kind int
	// lit is the literal text, or for a mixed segment its shape: the
	// text with every parameter replaced by "{}", so that /{a}.json and
	// /{b}.json are one edge.
	lit   string
	parts []segmentPart // mixed only
}

type segmentPart struct {
	lit   string
	param bool
}

// matches reports whether a mixed segment matches s; each parameter
// takes at least one character.
func matchParts(parts []segmentPart, s string) bool {
	if len(parts) == 0 {
		return s == ""
	}
	p := parts[0]
	if !p.param {
		return strings.HasPrefix(s, p.lit) && matchParts(parts[1:], s[len(p.lit):])
	}
	if len(parts) == 1 {
		return s != ""
	}
	for i := 1; i <= len(s); i++ {
		if matchParts(parts[1:], s[i:]) {
			return true
		}
	}
	return false
}

type mixedEdge struct {
	seg   segment
	child *routeNode
}

type routeNode struct {
	lit   map[string]*routeNode
	mixed []mixedEdge
	wild  *routeNode
	// pattern is what Request.Pattern is set to on a match: the method
	// and the template. Empty for interior nodes.
	pattern string
}

// tableRoute is one operation: its method, its template and the
// template's segments.
type tableRoute struct {
	method, template string
	segs             []segment
}

func (r tableRoute) pattern() string { return r.method + " " + r.template }

// routeConflict is a pair of operations that overlap without one being
// more specific. example is a path both match; it is labelled winner
// unless a third, more specific template takes it, which taken names.
type routeConflict struct {
	winner, loser, example, taken string
}

// conflictBudget bounds the pairwise comparison of templates, which is
// quadratic in the worst case; a 1,000-operation document needs a few
// thousand comparisons.
const conflictBudget = 4_000_000

// parseTemplate splits a path template into segments. Literal segments
// are unescaped, as ServeMux does, so they compare with the decoded
// request path.
func parseTemplate(t string) ([]segment, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, errTemplate("does not start with /")
	}
	for _, c := range t {
		if c < 0x20 || c == 0x7f {
			return nil, errTemplate("contains a control character")
		}
	}
	raw := strings.Split(t[1:], "/")
	segs := make([]segment, len(raw))
	for i, s := range raw {
		if !strings.ContainsAny(s, "{}") {
			if u, err := url.PathUnescape(s); err == nil && !strings.Contains(u, "/") {
				s = u
			}
			if s == "." || s == ".." || (s == "" && i < len(raw)-1) {
				return nil, errTemplate("has an empty, . or .. segment")
			}
			segs[i] = segment{kind: segLiteral, lit: s}
			continue
		}
		var parts []segmentPart
		var shape strings.Builder
		rest := s
		for rest != "" {
			open := strings.IndexByte(rest, '{')
			if open < 0 {
				if strings.IndexByte(rest, '}') >= 0 {
					return nil, errTemplate("has an unbalanced }")
				}
				parts = append(parts, segmentPart{lit: rest})
				shape.WriteString(rest)
				break
			}
			if strings.IndexByte(rest[:open], '}') >= 0 {
				return nil, errTemplate("has an unbalanced }")
			}
			if open > 0 {
				parts = append(parts, segmentPart{lit: rest[:open]})
				shape.WriteString(rest[:open])
			}
			end := strings.IndexByte(rest[open:], '}')
			if end < 0 {
				return nil, errTemplate("has an unbalanced {")
			}
			name := rest[open+1 : open+end]
			if name == "" || strings.IndexByte(name, '{') >= 0 {
				return nil, errTemplate("has an empty or nested parameter name")
			}
			if len(parts) > 0 && parts[len(parts)-1].param {
				return nil, errTemplate("has two parameters with nothing between them")
			}
			parts = append(parts, segmentPart{param: true})
			shape.WriteString("{}")
			rest = rest[open+end+1:]
		}
		if len(parts) == 1 {
			segs[i] = segment{kind: segWild}
			continue
		}
		segs[i] = segment{kind: segMixed, lit: shape.String(), parts: parts}
	}
	return segs, nil
}

type errTemplate string

func (e errTemplate) Error() string { return string(e) }

// newRouteTable builds the table. Routes are inserted in a fixed order
// (by template, then method), so of two equivalent templates the first in
// that order wins, whatever order the document listed them in.
func newRouteTable(routes []tableRoute) *routeTable {
	routes = slices.Clone(routes)
	slices.SortFunc(routes, func(a, b tableRoute) int {
		return cmp.Or(strings.Compare(a.template, b.template), strings.Compare(a.method, b.method))
	})
	t := &routeTable{size: len(routes)}
	for _, r := range routes {
		m := methodIndex(r.method)
		if m < 0 {
			continue
		}
		if t.roots[m] == nil {
			t.roots[m] = &routeNode{}
		}
		t.roots[m].insert(r.segs, r.pattern())
	}
	t.conflicts, t.conflictsIncomplete = findConflicts(routes)
	for i, c := range t.conflicts {
		method, _, _ := strings.Cut(c.winner, " ")
		if p := t.match(&http.Request{Method: method, URL: &url.URL{Path: c.example}}); p != c.winner {
			t.conflicts[i].taken = p
		}
	}
	return t
}

func (n *routeNode) insert(segs []segment, pattern string) {
	for _, s := range segs {
		n = n.child(s)
	}
	if n.pattern == "" {
		n.pattern = pattern
	}
}

func (n *routeNode) child(s segment) *routeNode {
	switch s.kind {
	case segLiteral:
		if n.lit == nil {
			n.lit = map[string]*routeNode{}
		}
		c := n.lit[s.lit]
		if c == nil {
			c = &routeNode{}
			n.lit[s.lit] = c
		}
		return c
	case segMixed:
		for _, e := range n.mixed {
			if e.seg.lit == s.lit {
				return e.child
			}
		}
		c := &routeNode{}
		n.mixed = append(n.mixed, mixedEdge{seg: s, child: c})
		// More literal text first: /{id}.tar.gz is tried before /{id}.gz.
		slices.SortStableFunc(n.mixed, func(a, b mixedEdge) int {
			return cmp.Or(len(b.seg.lit)-len(a.seg.lit), strings.Compare(a.seg.lit, b.seg.lit))
		})
		return c
	default:
		if n.wild == nil {
			n.wild = &routeNode{}
		}
		return n.wild
	}
}

// match returns the pattern ("GET /pets/{petId}") r matches, or "". A
// HEAD request falls back to the GET operations, as in ServeMux. A path
// ServeMux would redirect to its clean form (//, /./, /../) matches
// nothing, also as in ServeMux.
func (t *routeTable) match(r *http.Request) string {
	m := methodIndex(r.Method)
	if m < 0 {
		return ""
	}
	path := r.URL.Path
	if r.URL.RawPath != "" {
		path = decodedSegments(r.URL.EscapedPath())
	}
	if len(path) == 0 || path[0] != '/' || !cleanPath(path) {
		return ""
	}
	if p := t.roots[m].find(path[1:]); p != "" || m != mHead {
		return p
	}
	return t.roots[mGet].find(path[1:])
}

// decodedSegments unescapes each segment of an escaped path on its own, as
// ServeMux does, so that %2F stays inside its segment. It stands there as
// NUL, which no literal segment contains (templates refuse control
// characters) and a parameter matches like any other byte.
func decodedSegments(escaped string) string {
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = strings.ReplaceAll(u, "/", "\x00")
		}
	}
	return strings.Join(segs, "/")
}

// cleanPath reports whether path has no empty inner segment and no . or
// .. segment.
func cleanPath(path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] != '/' || i+1 == len(path) {
			continue
		}
		rest := path[i+1:]
		switch {
		case rest[0] == '/':
			return false
		case rest[0] == '.':
			if len(rest) == 1 || rest[1] == '/' || rest[1] == '.' && (len(rest) == 2 || rest[2] == '/') {
				return false
			}
		}
	}
	return true
}

// find matches the path after its leading slash, depth first: literal,
// then mixed, then parameter, backtracking when a branch does not match.
func (n *routeNode) find(path string) string {
	if n == nil {
		return ""
	}
	seg, rest, more := strings.Cut(path, "/")
	if !more {
		if c := n.lit[seg]; c != nil && c.pattern != "" {
			return c.pattern
		}
		for _, e := range n.mixed {
			if e.child.pattern != "" && matchParts(e.seg.parts, seg) {
				return e.child.pattern
			}
		}
		if seg != "" && n.wild != nil {
			return n.wild.pattern
		}
		return ""
	}
	if c := n.lit[seg]; c != nil {
		if p := c.find(rest); p != "" {
			return p
		}
	}
	for _, e := range n.mixed {
		if matchParts(e.seg.parts, seg) {
			if p := e.child.find(rest); p != "" {
				return p
			}
		}
	}
	if seg != "" {
		return n.wild.find(rest)
	}
	return ""
}

// findConflicts compares the routes of each method pairwise and returns
// those ServeMux would refuse together, sorted, with the winner first.
func findConflicts(routes []tableRoute) ([]routeConflict, bool) {
	type key struct {
		method string
		n      int
	}
	groups := map[key][]tableRoute{}
	for _, r := range routes {
		k := key{r.method, len(r.segs)}
		groups[k] = append(groups[k], r)
	}
	keys := slices.Collect(func(yield func(key) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	})
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(strings.Compare(a.method, b.method), a.n-b.n) })
	var out []routeConflict
	budget := conflictBudget
	for _, k := range keys {
		g := groups[k]
		for i := range g {
			for j := i + 1; j < len(g); j++ {
				if budget--; budget < 0 {
					return out, true
				}
				if c, ok := conflictOf(g[i], g[j]); ok {
					out = append(out, c)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b routeConflict) int {
		return cmp.Or(strings.Compare(a.winner, b.winner), strings.Compare(a.loser, b.loser))
	})
	return out, false
}

// conflictOf reports whether a and b (same method, same number of
// segments, a before b in insertion order) overlap with neither more
// specific, and which one the table labels their common requests with.
func conflictOf(a, b tableRoute) (routeConflict, bool) {
	first := 0 // at the first position where they differ: -1 a is more specific, 1 b is
	aMore, bMore := false, false
	example := make([]string, len(a.segs))
	for i := range a.segs {
		sa, sb := a.segs[i], b.segs[i]
		rel := 0
		switch {
		case sa.kind == segLiteral && sb.kind == segLiteral:
			if sa.lit != sb.lit {
				return routeConflict{}, false
			}
			example[i] = sa.lit
		case sa.kind == segLiteral:
			if sa.lit == "" || sb.kind == segMixed && !matchParts(sb.parts, sa.lit) {
				return routeConflict{}, false
			}
			example[i], rel = sa.lit, -1
		case sb.kind == segLiteral:
			if sb.lit == "" || sa.kind == segMixed && !matchParts(sa.parts, sb.lit) {
				return routeConflict{}, false
			}
			example[i], rel = sb.lit, 1
		case sa.kind == segMixed && sb.kind == segMixed:
			// Different shapes are taken as disjoint (/{a}.json and
			// /{a}.xml); they are tried longest text first.
			if sa.lit != sb.lit {
				return routeConflict{}, false
			}
			example[i] = strings.ReplaceAll(sa.lit, "{}", "x")
		case sa.kind == segMixed:
			example[i], rel = strings.ReplaceAll(sa.lit, "{}", "x"), -1
		case sb.kind == segMixed:
			example[i], rel = strings.ReplaceAll(sb.lit, "{}", "x"), 1
		default:
			example[i] = "x"
		}
		if rel != 0 && first == 0 {
			first = rel
		}
		aMore = aMore || rel < 0
		bMore = bMore || rel > 0
	}
	if aMore != bMore {
		return routeConflict{}, false // one is more specific: no conflict
	}
	c := routeConflict{winner: a.pattern(), loser: b.pattern(), example: "/" + strings.Join(example, "/")}
	if first > 0 {
		c.winner, c.loser = c.loser, c.winner
	}
	return c, true
}
