package routes

import (
	"context"
	"errors"
	"net/http"

	"github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Table labels requests with route templates. Build one with New from
// ServeMux patterns or with FromOpenAPI from an API description; a Table
// never changes once built, so any number of goroutines may use it.
type Table struct {
	// Exactly one of mux and tree is set.
	mux *http.ServeMux
	// firsts, when not nil, holds the first path segment of every
	// pattern: a request whose path starts otherwise matches none of
	// them, and skips the ServeMux lookup.
	firsts map[string]bool
	tree   *tree

	size      int
	version   string
	notes     []string
	conflicts ConflictReport
}

// ErrPattern is wrapped by the errors of New.
var ErrPattern = errors.New("invalid route pattern")

// New returns a table of ServeMux patterns ("GET /servers/{id}/sse",
// "/files/{path...}", "example.com/"), matched by the rules of
// http.ServeMux, which it uses. Patterns that ServeMux refuses to register
// together give an error naming the pattern, as does any pattern
// ServeMux refuses.
func New(patterns []string) (*Table, error) {
	mux, err := compilePatterns(patterns)
	if err != nil {
		return nil, err
	}
	t := &Table{mux: mux, firsts: firstSegments(patterns), size: len(patterns)}
	addFallback(mux)
	return t, nil
}

// FromOpenAPI returns the table of the operations of an OpenAPI 3.0 or
// 3.1 or a Swagger 2.0 document, JSON or YAML, at most MaxDocumentBytes:
// one template per path and method, under the path of the first server's
// URL (or basePath). Only paths, servers and basePath are read, so nothing
// else in the document (schemas, extensions, even invalid ones) can stop
// the load; templates that cannot be used are left out with a note.
//
// Unlike New it accepts templates that overlap with neither more
// specific, as API descriptions often have them: the template with a
// literal segment at the first position where two differ wins, and
// Conflicts reports the pairs. For any set ServeMux accepts, both label
// every request alike, escaped paths included (/x/%2E%2E matches /x/{id},
// a%2Fb is one segment); a template's trailing slash is that path alone,
// which ServeMux writes /a/{$}.
//
// The cost is bounded by the document's size: references are resolved
// once each, server variables substituted in one pass, YAML aliases may
// repeat at most four times the document's own nodes and none may
// contain itself, and a document whose templates would amount to much
// more than itself is refused. So is one whose templates would make a
// match read each byte of the path more than 256 times: about 128
// templates mixing text and parameters in one segment at the same place
// (/f/{id}.v1 ... /f/{id}.v128), or hundreds of templates in which a
// literal and a parameter fork at nearly every segment. ctx cancels a load in progress. Errors
// wrap ErrDocument.
func FromOpenAPI(ctx context.Context, doc []byte) (*Table, error) {
	d, err := parseOpenAPI(ctx, doc)
	if err != nil {
		return nil, err
	}
	tr, report, err := newTree(ctx, d.routes)
	if err != nil {
		return nil, err
	}
	return &Table{tree: tr, size: len(d.routes), version: d.version, notes: d.notes, conflicts: report}, nil
}

// Match returns the route template r matches ("/servers/{id}/sse"), or ""
// when it matches none. For a table from FromOpenAPI, a HEAD request falls
// back to the GET operations, as in ServeMux, and a path ServeMux would
// redirect to its clean form (//, /./, /../) matches nothing. Its cost is
// linear in the length of the path, by a factor the load bounds whatever
// the number of templates; it does not allocate unless the path has
// escaped characters. A table from New costs what ServeMux's lookup
// costs, which allocates for the values of wildcards.
func (t *Table) Match(r *http.Request) string {
	return semconv.Route(t.pattern(r))
}

// pattern returns the pattern r matches: "GET /servers/{id}".
func (t *Table) pattern(r *http.Request) string {
	if t == nil {
		return ""
	}
	if t.tree != nil {
		return t.tree.match(r, nil)
	}
	if t.firsts != nil && !t.firsts[firstSegment(r.URL.Path)] {
		return ""
	}
	// Only a route marker counts: the redirects and 405s ServeMux would
	// answer with are no routes.
	h, _ := t.mux.Handler(r)
	if p, ok := h.(route); ok {
		return string(p)
	}
	return ""
}

// Len is the number of patterns, or of operations of the document.
func (t *Table) Len() int { return t.size }

// Version is the document's OpenAPI version ("3.1.0") or "2.0" for
// Swagger, "" for a table of patterns.
func (t *Table) Version() string { return t.version }

// Notes say what FromOpenAPI left out of the document or guessed, one
// sentence each: at most maxNotes, then one saying how many more there
// were.
func (t *Table) Notes() []string { return t.notes }

// Conflicts reports the overlapping pairs of a table from FromOpenAPI.
func (t *Table) Conflicts() ConflictReport { return t.conflicts }
