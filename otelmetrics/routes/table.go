package routes

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/metricsbridge/metricsbridge/internal/semconv"
)

// tree labels requests with the route templates of an API
// description. Unlike http.ServeMux it accepts every set of templates:
// where two overlap without one being more specific, which ServeMux
// refuses to register, the one with a literal segment at the first
// position where they differ wins, left to right. That is the order
// ServeMux itself searches in, so for any set ServeMux accepts both give
// the same answer.
//
// A match visits each node at most once (the nodes form a tree and each
// is tried with the same rest of the path), and the work at a node is
// linear in the length of the path segment it is tried with, so a match
// costs at most the path's length times a factor the table fixes when it
// is built.
type tree struct {
	roots [len(semconv.Methods)]*routeNode
	// factor bounds the work of a match: at most the path's length plus
	// one, times factor.
	factor int
}

// methodIndex is the index of the root of method m, or -1 for none:
// methods compare exactly, as in ServeMux.
func methodIndex(m string) int {
	if i := semconv.MethodIndex(m); i > 0 && semconv.Methods[i] == m {
		return i
	}
	return -1
}

var (
	mGet  = methodIndex("GET")
	mHead = methodIndex("HEAD")
)

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

// matchParts reports whether a mixed segment matches s; each parameter
// takes at least one character. Parameters never stand side by side
// (parseTemplate refuses that), so the segment is a glob whose stars take
// one character or more, and the leftmost place each literal can go is
// always a right one: a later one only leaves less for the rest. One pass,
// linear in len(s), whatever the number of parameters; trying every split
// instead costs len(s) to the power of the parameters.
func matchParts(parts []segmentPart, s string) bool {
	if len(parts) > 0 && !parts[0].param {
		lit := parts[0].lit
		if !strings.HasPrefix(s, lit) {
			return false
		}
		s, parts = s[len(lit):], parts[1:]
	}
	// parts now alternate parameter, literal, parameter, ...
	for len(parts) > 0 {
		if len(parts) == 1 {
			return s != ""
		}
		lit := parts[1].lit
		if len(parts) == 2 {
			return len(s) > len(lit) && strings.HasSuffix(s, lit)
		}
		if s == "" {
			return false
		}
		i := strings.Index(s[1:], lit)
		if i < 0 {
			return false
		}
		s, parts = s[1+i+len(lit):], parts[2:]
	}
	return s == ""
}

type mixedEdge struct {
	seg   segment
	child *routeNode
	// example is the first pattern through the edge, for an error.
	example string
}

type routeNode struct {
	// A node's literal children: the first in one and oneChild, the
	// others in lit, so that the long chains of single children most
	// templates make cost no map each.
	one      string
	oneChild *routeNode
	lit      map[string]*routeNode
	mixed    []mixedEdge
	// mixedIndex finds a mixed edge by shape while the tree is built, so
	// that many shapes under one node cost no more than one each; nil
	// once built.
	mixedIndex map[string]int
	wild       *routeNode
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

// Conflict is a pair of templates of one method that overlap without one
// being more specific, which http.ServeMux would refuse to register
// together. The table labels their common requests with Winner: the one
// with a literal segment at the first position where the two differ.
type Conflict struct {
	// Winner and Loser are patterns: "GET /videos/{id}/content".
	Winner, Loser string
	// Example is a path both match.
	Example string
	// TakenBy is set when a third, more specific template takes Example
	// from both.
	TakenBy string
}

// ConflictReport counts the conflicting pairs of a table and keeps the
// first few, so that a document with millions of overlapping pairs costs
// no more memory than one with a handful.
type ConflictReport struct {
	// Count is how many pairs conflict; when Incomplete it is a lower
	// bound.
	Count int
	// First holds the first 20 pairs found, in the
	// order of their Winner, then Loser.
	First []Conflict
	// Incomplete is set when the table had too many templates of one
	// method and length to compare every pair (more than 4 million
	// comparisons). Overlaps beyond those found are
	// resolved by the same rule, but not counted.
	Incomplete bool
}

// maxReportedConflicts is how many conflicting pairs a ConflictReport
// keeps.
const maxReportedConflicts = 20

// conflictComparisons bounds the pairwise comparison of templates, which
// is quadratic in the worst case; a 1,000-operation document needs a few
// thousand comparisons.
const conflictComparisons = 4_000_000

// parseTemplate splits a path template into segments. Literal text is
// unescaped, as ServeMux does, so it compares with the unescaped segments
// of the request path; the checks for empty, . and .. segments look at the
// text as written, as ServeMux's own do, so /x/%2E%2E is the literal "..",
// which only an escaped request path reaches.
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
			if s == "." || s == ".." || (s == "" && i < len(raw)-1) {
				return nil, errTemplate("has an empty, . or .. segment")
			}
			segs[i] = segment{kind: segLiteral, lit: unescapeSegment(s)}
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
				lit := unescapeSegment(rest)
				parts = append(parts, segmentPart{lit: lit})
				shape.WriteString(lit)
				break
			}
			if strings.IndexByte(rest[:open], '}') >= 0 {
				return nil, errTemplate("has an unbalanced }")
			}
			if open > 0 {
				lit := unescapeSegment(rest[:open])
				parts = append(parts, segmentPart{lit: lit})
				shape.WriteString(lit)
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

// newTree builds the tree and its conflict report. Routes are inserted in
// a fixed order (by template, then method), so of two equivalent templates
// the first in that order wins, whatever order the document listed them
// in.
func newTree(ctx context.Context, routes []tableRoute) (*tree, ConflictReport, error) {
	routes = slices.Clone(routes)
	slices.SortFunc(routes, func(a, b tableRoute) int {
		return cmp.Or(strings.Compare(a.template, b.template), strings.Compare(a.method, b.method))
	})
	t := &tree{}
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
	var factors [len(t.roots)]int
	var worst *routeNode
	for m, root := range t.roots {
		factors[m] = root.finish(&worst)
	}
	// HEAD falls back to GET, so its matches may cost both.
	if factors[mHead] += factors[mGet]; slices.Max(factors[:]) > maxMatchFactor {
		return nil, ConflictReport{}, errMatchFactor(worst)
	}
	t.factor = slices.Max(factors[:])
	report, err := findConflicts(ctx, routes)
	if err != nil {
		return nil, report, err
	}
	for i, c := range report.First {
		method, _, _ := strings.Cut(c.Winner, " ")
		u, err := url.Parse(c.Example)
		if err != nil {
			u = &url.URL{Path: c.Example}
		}
		if p := t.match(&http.Request{Method: method, URL: u}, nil); p != c.Winner {
			report.First[i].TakenBy = p
		}
	}
	return t, report, nil
}

func (n *routeNode) insert(segs []segment, pattern string) {
	for _, s := range segs {
		n = n.child(s, pattern)
	}
	if n.pattern == "" {
		n.pattern = pattern
	}
}

func (n *routeNode) child(s segment, pattern string) *routeNode {
	switch s.kind {
	case segLiteral:
		if c := n.litChild(s.lit); c != nil {
			return c
		}
		c := &routeNode{}
		switch {
		case n.oneChild == nil:
			n.one, n.oneChild = s.lit, c
		case n.lit == nil:
			n.lit = map[string]*routeNode{s.lit: c}
		default:
			n.lit[s.lit] = c
		}
		return c
	case segMixed:
		if i, ok := n.mixedIndex[s.lit]; ok {
			return n.mixed[i].child
		}
		if n.mixedIndex == nil {
			n.mixedIndex = map[string]int{}
		}
		c := &routeNode{}
		n.mixedIndex[s.lit] = len(n.mixed)
		n.mixed = append(n.mixed, mixedEdge{seg: s, child: c, example: pattern})
		return c
	default:
		if n.wild == nil {
			n.wild = &routeNode{}
		}
		return n.wild
	}
}

// finish orders the mixed edges of every node once the tree is built,
// more literal text first: /{id}.tar.gz is tried before /{id}.gz. It
// returns the node's match factor: how many times at most a match from
// this node reads each byte of the path. A match reads the segment once
// at each node it visits and once more for each mixed edge there, and
// from a node it visits at most one literal child, every mixed child and
// the parameter child. The factor stops counting past maxMatchFactor;
// worst is set to the node with the most mixed edges.
func (n *routeNode) finish(worst **routeNode) int {
	if n == nil {
		return 0
	}
	n.mixedIndex = nil
	slices.SortFunc(n.mixed, func(a, b mixedEdge) int {
		return cmp.Or(len(b.seg.lit)-len(a.seg.lit), strings.Compare(a.seg.lit, b.seg.lit))
	})
	if *worst == nil || len(n.mixed) > len((*worst).mixed) {
		*worst = n
	}
	lit := n.oneChild.finish(worst)
	for _, c := range n.lit {
		lit = max(lit, c.finish(worst))
	}
	factor := 1 + len(n.mixed) + lit + n.wild.finish(worst)
	for _, e := range n.mixed {
		factor += e.child.finish(worst)
	}
	return min(factor, maxMatchFactor+1)
}

// maxMatchFactor bounds how many times a match may read each byte of the
// path, whatever the number of templates: a table whose templates could
// make it read more is refused. Each template mixing text and parameters
// in a segment (/{id}.json) adds two where it stands beside others, each
// place where a literal and a parameter both continue a path at most
// doubles it; a 1,000-operation API has a factor of about ten.
const maxMatchFactor = 256

// errMatchFactor says why a table was refused for its match factor.
func errMatchFactor(worst *routeNode) error {
	if worst != nil && len(worst.mixed) > 1 {
		return fmt.Errorf("%w: matching a request could read each byte of its path more than %d times: %d templates mix text and parameters in one segment at the same place, such as %q; a table takes at most about %d such templates at one place",
			ErrDocument, maxMatchFactor, len(worst.mixed), worst.mixed[0].example, maxMatchFactor/2)
	}
	return fmt.Errorf("%w: matching a request could read each byte of its path more than %d times: too many templates overlap, a literal and a parameter continuing the same path", ErrDocument, maxMatchFactor)
}

// match returns the pattern ("GET /pets/{petId}") r matches, or "". A
// HEAD request falls back to the GET operations, as in ServeMux. A path
// ServeMux would redirect to its clean form (//, /./, /../) matches
// nothing, also as in ServeMux. When work is not nil, it counts the bytes
// of the path examined, for the tests that hold the cost linear.
func (t *tree) match(r *http.Request, work *int) string {
	m := methodIndex(r.Method)
	if m < 0 {
		return ""
	}
	// Like ServeMux, the escaped path is checked for cleanness and split,
	// and each segment unescaped on its own: /x/%2E%2E is clean and its
	// last segment "..", and a%2Fb is one segment, "a/b". Without RawPath
	// the escaped path differs from Path only in bytes that are neither
	// dots nor slashes, so Path serves for both, without allocating.
	path := r.URL.Path
	if r.URL.RawPath != "" {
		path = r.URL.EscapedPath()
	}
	if len(path) == 0 || path[0] != '/' || !cleanPath(path) {
		return ""
	}
	segs := segments{path: path[1:]}
	if r.URL.RawPath != "" {
		segs = splitEscaped(path[1:])
	}
	if p := t.roots[m].find(segs, work); p != "" || m != mHead {
		return p
	}
	return t.roots[mGet].find(segs, work)
}

// segments is the path find walks: after its leading slash, either the
// path itself, or for an escaped path its segments unescaped.
type segments struct {
	path  string
	list  []string
	split bool
}

// next returns the first segment, the rest, and whether there is a rest.
func (s segments) next() (seg string, rest segments, more bool) {
	if !s.split {
		seg, after, more := strings.Cut(s.path, "/")
		return seg, segments{path: after}, more
	}
	return s.list[0], segments{list: s.list[1:], split: true}, len(s.list) > 1
}

// splitEscaped splits an escaped path, after its leading slash, into its
// segments unescaped.
func splitEscaped(escaped string) segments {
	list := strings.Split(escaped, "/")
	for i, seg := range list {
		list[i] = unescapeSegment(seg)
	}
	return segments{list: list, split: true}
}

// unescapeSegment unescapes one path segment as ServeMux does: text that
// is not validly escaped stays as it is, and a segment that is an escaped
// slash alone is taken for the empty segment of a trailing slash, as
// ServeMux's lookup takes both for "/".
func unescapeSegment(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	if u == "/" {
		return ""
	}
	return u
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

// litChild is the child by the literal segment seg, or nil.
func (n *routeNode) litChild(seg string) *routeNode {
	if n.oneChild != nil && n.one == seg {
		return n.oneChild
	}
	return n.lit[seg]
}

// find matches the path after its leading slash, depth first: literal,
// then mixed, then parameter, backtracking when a branch does not match.
func (n *routeNode) find(path segments, work *int) string {
	if n == nil {
		return ""
	}
	seg, rest, more := path.next()
	if work != nil {
		*work += (1 + len(n.mixed)) * (len(seg) + 1)
	}
	if !more {
		if c := n.litChild(seg); c != nil && c.pattern != "" {
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
	if c := n.litChild(seg); c != nil {
		if p := c.find(rest, work); p != "" {
			return p
		}
	}
	for _, e := range n.mixed {
		if matchParts(e.seg.parts, seg) {
			if p := e.child.find(rest, work); p != "" {
				return p
			}
		}
	}
	if seg != "" {
		return n.wild.find(rest, work)
	}
	return ""
}

// findConflicts compares the routes of each method pairwise and reports
// those ServeMux would refuse together, with the winner first.
func findConflicts(ctx context.Context, routes []tableRoute) (ConflictReport, error) {
	type key struct {
		method string
		n      int
	}
	groups := map[key][]tableRoute{}
	for _, r := range routes {
		k := key{r.method, len(r.segs)}
		groups[k] = append(groups[k], r)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(strings.Compare(a.method, b.method), a.n-b.n) })
	var rep ConflictReport
	err := compare(ctx, keys, groups, &rep)
	slices.SortFunc(rep.First, func(a, b Conflict) int {
		return cmp.Or(strings.Compare(a.Winner, b.Winner), strings.Compare(a.Loser, b.Loser))
	})
	return rep, err
}

func compare[K comparable](ctx context.Context, keys []K, groups map[K][]tableRoute, rep *ConflictReport) error {
	budget := conflictComparisons
	for _, k := range keys {
		g := groups[k]
		for i := range g {
			for j := i + 1; j < len(g); j++ {
				if budget--; budget < 0 {
					rep.Incomplete = true
					return nil
				}
				if budget%(1<<16) == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				first, ok := overlap(g[i], g[j])
				if !ok {
					continue
				}
				if rep.Count++; len(rep.First) < maxReportedConflicts {
					rep.First = append(rep.First, conflictOf(g[i], g[j], first))
				}
			}
		}
	}
	return nil
}

// overlap reports whether a and b (same method, same number of segments,
// a before b in insertion order) overlap with neither more specific, and
// which one the table labels their common requests with: at the first
// position where they differ, -1 if a is more specific, 1 if b is.
func overlap(a, b tableRoute) (first int, ok bool) {
	aMore, bMore := false, false
	for i := range a.segs {
		sa, sb := a.segs[i], b.segs[i]
		rel := 0
		switch {
		case sa.kind == segLiteral && sb.kind == segLiteral:
			if sa.lit != sb.lit {
				return 0, false
			}
		case sa.kind == segLiteral:
			if sa.lit == "" || sb.kind == segMixed && !matchParts(sb.parts, sa.lit) {
				return 0, false
			}
			rel = -1
		case sb.kind == segLiteral:
			if sb.lit == "" || sa.kind == segMixed && !matchParts(sa.parts, sb.lit) {
				return 0, false
			}
			rel = 1
		case sa.kind == segMixed && sb.kind == segMixed:
			// Different shapes are taken as disjoint (/{a}.json and
			// /{a}.xml); they are tried longest text first.
			if sa.lit != sb.lit {
				return 0, false
			}
		case sa.kind == segMixed:
			rel = -1
		case sb.kind == segMixed:
			rel = 1
		}
		if rel != 0 && first == 0 {
			first = rel
		}
		aMore = aMore || rel < 0
		bMore = bMore || rel > 0
	}
	// One more specific than the other is no conflict.
	return first, aMore == bMore
}

// escapeSegment writes an unescaped segment back into a path that
// ServeMux and the table both read as that segment: escaped where a
// slash, a percent sign, a dot segment or an empty inner segment would
// read otherwise, as written elsewhere.
func escapeSegment(seg string, last bool) string {
	switch {
	case seg == "" && !last:
		return "%2F"
	case seg == "." || seg == "..":
		return strings.ReplaceAll(seg, ".", "%2E")
	case strings.ContainsAny(seg, "/%?#"):
		return url.PathEscape(seg)
	}
	return seg
}

// conflictOf describes the conflict overlap found, with a path both
// match. It is built only for the pairs a report keeps.
func conflictOf(a, b tableRoute, first int) Conflict {
	example := make([]string, len(a.segs))
	for i := range a.segs {
		sa, sb := a.segs[i], b.segs[i]
		switch {
		case sa.kind == segLiteral:
			example[i] = sa.lit
		case sb.kind == segLiteral:
			example[i] = sb.lit
		case sa.kind == segMixed:
			example[i] = strings.ReplaceAll(sa.lit, "{}", "x")
		case sb.kind == segMixed:
			example[i] = strings.ReplaceAll(sb.lit, "{}", "x")
		default:
			example[i] = "x"
		}
		example[i] = escapeSegment(example[i], i == len(a.segs)-1)
	}
	c := Conflict{Winner: a.pattern(), Loser: b.pattern(), Example: "/" + strings.Join(example, "/")}
	if first > 0 {
		c.Winner, c.Loser = c.Loser, c.Winner
	}
	return c
}
