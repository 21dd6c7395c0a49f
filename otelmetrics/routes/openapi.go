package routes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxDocumentBytes is the largest document FromOpenAPI reads.
const MaxDocumentBytes = 16 << 20

// Limits that keep a hostile document's cost in proportion to its size.
const (
	// maxServerURLBytes caps a server URL after its variables are
	// substituted; the path it yields precedes every template.
	maxServerURLBytes = 2048
	// templateSlack is how many bytes of templates (one per operation)
	// a document may yield beyond four times its own size: a small
	// document whose paths all refer elsewhere yields eight templates
	// per path.
	templateSlack = 1 << 20
	// maxSegments caps the path segments over all operations, each of
	// which may become a node of the table.
	maxSegments = 1 << 19
	// maxRefHops bounds a chain of path items referring to each other.
	maxRefHops = 8
)

// maxNotes is how many notes a table keeps; the last one then says how
// many more there were.
const maxNotes = 100

// ErrDocument is wrapped by every error of FromOpenAPI.
var ErrDocument = errors.New("cannot load the OpenAPI document")

// apiDescription is what a document yields.
type apiDescription struct {
	version string // "3.1.0", "2.0"
	routes  []tableRoute
	// notes say what was left out or guessed, for the start-up log.
	notes []string
	// moreNotes counts the notes beyond maxNotes.
	moreNotes int
}

func (d *apiDescription) note(format string, args ...any) {
	if len(d.notes) < maxNotes {
		d.notes = append(d.notes, fmt.Sprintf(format, args...))
		return
	}
	d.moreNotes++
}

var operationKeys = [...]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// parseOpenAPI reads an OpenAPI 3.x or Swagger 2.0 document, JSON or YAML,
// into one route per path and method. Only paths, servers and basePath
// are read, so anything else in the document (schemas, extensions, even
// invalid ones) cannot stop the load.
func parseOpenAPI(ctx context.Context, data []byte) (*apiDescription, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: the document is larger than %d MiB", ErrDocument, MaxDocumentBytes>>20)
	}
	root, err := decodeDocument(ctx, data)
	if err != nil {
		return nil, err
	}
	doc, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a JSON or YAML object", ErrDocument)
	}
	d := &apiDescription{}
	r := &resolver{doc: doc, d: d, refs: map[string]*pathItem{}}
	var prefix string
	switch {
	case doc["openapi"] != nil:
		d.version = scalarString(doc["openapi"])
		if !strings.HasPrefix(d.version, "3.") {
			return nil, fmt.Errorf("%w: openapi version %q: want 3.x, or swagger 2.0", ErrDocument, clip(d.version))
		}
		prefix = r.serversPrefix(doc["servers"])
	case doc["swagger"] != nil:
		d.version = scalarString(doc["swagger"])
		if d.version != "2.0" && d.version != "2" {
			return nil, fmt.Errorf("%w: swagger version %q: want 2.0, or openapi 3.x", ErrDocument, clip(d.version))
		}
		d.version = "2.0"
		r.swagger2 = true
		bp, _ := doc["basePath"].(string)
		prefix = strings.TrimRight(bp, "/")
		if prefix != "" && !strings.HasPrefix(prefix, "/") {
			prefix = "/" + prefix
		}
		if len(prefix) > maxServerURLBytes {
			r.err = fmt.Errorf("%w: basePath is longer than %d bytes", ErrDocument, maxServerURLBytes)
		}
	default:
		return nil, fmt.Errorf("%w: neither an openapi nor a swagger field: not an OpenAPI 3 or Swagger 2.0 document", ErrDocument)
	}
	if r.err != nil {
		return nil, r.err
	}
	paths, ok := asMap(doc["paths"])
	if !ok || len(paths) == 0 {
		return nil, fmt.Errorf("%w: the document has no paths", ErrDocument)
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	budget := budget{templateBytes: 4*len(data) + templateSlack, segments: maxSegments}
	for i, p := range keys {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrDocument, ctx.Err())
		}
		if !strings.HasPrefix(p, "/") {
			if !strings.HasPrefix(p, "x-") {
				d.note("path %q left out: does not start with /", p)
			}
			continue
		}
		m, ok := asMap(paths[p])
		if !ok {
			if paths[p] != nil {
				d.note("path %q left out: its item is not an object", p)
			}
			continue
		}
		item := r.item(m, 0)
		if r.err != nil {
			return nil, r.err
		}
		itemPrefix := prefix
		if item.hasServers {
			itemPrefix = item.prefix
		}
		// One template and one parse per prefix, shared by the methods.
		var last struct {
			prefix, t string
			segs      []segment
			err       error
		}
		add := func(method, pfx string) error {
			if last.t == "" || last.prefix != pfx {
				last.prefix, last.t = pfx, pfx+p
				last.segs, last.err = parseTemplate(last.t)
			}
			if last.err != nil {
				d.note("%s %s left out: the template %v", method, last.t, last.err)
				return nil
			}
			if err := budget.spend(last.t, last.segs); err != nil {
				return err
			}
			d.routes = append(d.routes, tableRoute{method: method, template: last.t, segs: last.segs})
			return nil
		}
		for k, op := range item.ops {
			if !op.present && item.external == "" {
				continue
			}
			pfx := itemPrefix
			if op.hasServers {
				pfx = op.prefix
			}
			if err := add(strings.ToUpper(operationKeys[k]), pfx); err != nil {
				return nil, err
			}
		}
		if item.external != "" {
			// The methods are behind a reference that is not followed;
			// the template is known, so it labels every method.
			d.note("path %q: %s; labelled for every method", p, item.external)
		}
	}
	if d.moreNotes > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%d more notes not listed", d.moreNotes))
	}
	if len(d.routes) == 0 {
		return nil, fmt.Errorf("%w: the document has no operations (get, post, ...) under its paths", ErrDocument)
	}
	return d, nil
}

// budget is what is left of the templates a document may yield.
type budget struct{ templateBytes, segments int }

func (b *budget) spend(t string, segs []segment) error {
	b.templateBytes -= len(t)
	b.segments -= len(segs)
	switch {
	case b.templateBytes < 0:
		return fmt.Errorf("%w: its templates, with the server URL's path before each, add up to more than four times the document's size", ErrDocument)
	case b.segments < 0:
		return fmt.Errorf("%w: its templates have more than %d path segments in all", ErrDocument, maxSegments)
	}
	return nil
}

// decodeDocument decodes JSON with encoding/json, which is much faster
// than the YAML decoder on large documents, and anything else as YAML,
// into maps with string keys, so that looking a key up never converts a
// map. The decoders cannot be interrupted, so a
// cancelled ctx returns at once and leaves the decoding, bounded by
// MaxDocumentBytes, to finish on its own.
func decodeDocument(ctx context.Context, data []byte) (any, error) {
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := decode(data)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrDocument, ctx.Err())
	}
}

func decode(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var v any
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(trimmed, &v); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line := 1 + bytes.Count(trimmed[:se.Offset], []byte("\n"))
				return nil, fmt.Errorf("%w: not valid JSON: line %d: %v", ErrDocument, line, err)
			}
			return nil, fmt.Errorf("%w: not valid JSON: %v", ErrDocument, err)
		}
		return v, nil
	}
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the document is empty", ErrDocument)
	}
	// yaml.v3 decoding into Go values checks each mapping for duplicate
	// keys pair by pair, quadratic in the keys of one mapping; parsing
	// into nodes is linear, and a converter builds the values.
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%w: not valid YAML or JSON: %v", ErrDocument, err)
	}
	c := converter{expanding: map[*yaml.Node]bool{}}
	c.budget = aliasFactor*countNodes(&n, 0) + aliasSlack
	v, err := c.value(&n, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid YAML or JSON: %v", ErrDocument, err)
	}
	return v, nil
}

// The values a YAML document converts to may hold at most aliasFactor
// times its own nodes, plus aliasSlack: aliases may repeat parts of a
// document, not multiply it. Counted in nodes, the budget follows what
// the values cost; counted in bytes, comments would raise it.
const (
	aliasFactor = 4
	aliasSlack  = 1024
	// maxDepth bounds the nesting of the values, aliases expanded, as
	// encoding/json and yaml.v3 bound the nesting of the text.
	maxDepth = 10000
)

var errAliases = errors.New("aliases expand to more than four times the document's own nodes")

// countNodes counts the nodes of a document without following aliases.
// The parser bounds the nesting, so the recursion is bounded too.
func countNodes(n *yaml.Node, depth int) int {
	count := 1
	if depth < maxDepth {
		for _, c := range n.Content {
			count += countNodes(c, depth+1)
		}
	}
	return count
}

// converter turns YAML nodes into the values encoding/json gives.
type converter struct {
	// budget is how many more nodes may be converted.
	budget int
	// expanding holds the anchored nodes being converted: an alias to
	// one of them is an anchor that contains itself, which would expand
	// without end.
	expanding map[*yaml.Node]bool
}

// value converts a YAML node to the values encoding/json gives, with
// string keys (the last of duplicate keys wins, as in encoding/json).
func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	if c.budget--; c.budget < 0 {
		return nil, errAliases
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested more than %d deep, aliases expanded", n.Line, maxDepth)
	}
	if n.Anchor != "" && n.Kind != yaml.AliasNode {
		c.expanding[n] = true
		defer delete(c.expanding, n)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown anchor %q", n.Line, n.Value)
		}
		if c.expanding[n.Alias] {
			// The wording of yaml.v3's own decoder.
			return nil, fmt.Errorf("line %d: anchor '%s' value contains itself", n.Line, n.Value)
		}
		return c.value(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			v, err := c.value(vn, depth+1)
			if err != nil {
				return nil, err
			}
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merge(out, v)
				continue
			}
			key, err := c.value(k, depth+1)
			if err != nil {
				return nil, err
			}
			if s, ok := key.(string); ok {
				out[s] = v
			} else {
				out[fmt.Sprint(key)] = v
			}
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// merge applies a merge key (<<: *base, or a list of them): keys already
// present stay.
func merge(out map[string]any, v any) {
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			if _, ok := out[k]; !ok {
				out[k] = x
			}
		}
	case []any:
		for _, x := range m {
			merge(out, x)
		}
	}
}

// scalar types a YAML scalar as yaml.v3 would for an interface value.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return int(i)
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// scalarString renders a scalar; anything else gives "".
func scalarString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case float64:
		// YAML and JSON both turn an unquoted 2.0 into a number.
		if s == float64(int64(s)) {
			return fmt.Sprintf("%.1f", s)
		}
		return strconv.FormatFloat(s, 'g', -1, 64)
	case int:
		return strconv.Itoa(s)
	case bool:
		return strconv.FormatBool(s)
	}
	return ""
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// pathItem is what the table needs of a path item: which operations it
// has, and the server URLs' paths that override the document's.
type pathItem struct {
	ops        [len(operationKeys)]operation
	hasServers bool
	prefix     string
	// external says why the methods are unknown: a reference that is
	// not followed. Empty when they are known.
	external string
}

type operation struct {
	present    bool
	hasServers bool
	prefix     string
}

// resolver reads path items, following each $ref within the document
// once: a reference shared by many paths costs no more than one.
type resolver struct {
	doc      map[string]any
	d        *apiDescription
	swagger2 bool
	refs     map[string]*pathItem
	// err is the first error that refuses the document.
	err error
}

// item reads a path item, merging the fields beside its $ref over the
// referenced ones.
func (r *resolver) item(m map[string]any, depth int) pathItem {
	var it pathItem
	if ref, ok := m["$ref"].(string); ok {
		it = r.ref(ref, depth+1)
		if it.external != "" {
			return it
		}
	}
	for i, k := range operationKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		op, isMap := asMap(v)
		it.ops[i] = operation{present: isMap}
		if s := op["servers"]; isMap && s != nil && !r.swagger2 {
			it.ops[i].hasServers, it.ops[i].prefix = true, r.serversPrefix(s)
		}
	}
	if s := m["servers"]; s != nil && !r.swagger2 {
		it.hasServers, it.prefix = true, r.serversPrefix(s)
	}
	return it
}

// inProgress marks a reference being resolved: meeting it again is a
// cycle.
var inProgress = &pathItem{external: fmt.Sprintf("$ref chain longer than %d", maxRefHops)}

func (r *resolver) ref(ref string, depth int) pathItem {
	if it, ok := r.refs[ref]; ok {
		return *it
	}
	if depth > maxRefHops {
		return *inProgress
	}
	target, ok := resolvePointer(r.doc, ref)
	if !ok {
		it := &pathItem{external: fmt.Sprintf("$ref %q is not followed", clip(ref))}
		r.refs[ref] = it
		return *it
	}
	r.refs[ref] = inProgress
	it := r.item(target, depth)
	r.refs[ref] = &it
	return it
}

// resolvePointer follows a local reference ("#/components/pathItems/pets",
// RFC 6901 within a URI fragment) to an object.
func resolvePointer(doc map[string]any, ref string) (map[string]any, bool) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	var cur any = doc
	if frag != "" {
		if !strings.HasPrefix(frag, "/") {
			return nil, false
		}
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch c := cur.(type) {
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(c) {
					return nil, false
				}
				cur = c[i]
			case map[string]any:
				if cur, ok = c[tok]; !ok {
					return nil, false
				}
			default:
				return nil, false
			}
		}
	}
	return asMap(cur)
}

// serversPrefix is the path of servers[0].url with its variables at their
// defaults, without a trailing slash: "https://api.example.com/v1" and
// "/v1" both give "/v1".
func (r *resolver) serversPrefix(v any) string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return ""
	}
	s, _ := asMap(list[0])
	raw, _ := s["url"].(string)
	vars, _ := asMap(s["variables"])
	expanded, ok := expandServerURL(raw, vars)
	if !ok {
		if r.err == nil {
			r.err = fmt.Errorf("%w: server URL %q expands to more than %d bytes", ErrDocument, clip(raw), maxServerURLBytes)
		}
		return ""
	}
	raw = expanded
	// The path is cut out by hand: a host with an unresolved {variable}
	// is no URL to net/url, and only the path matters here.
	p := raw
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = ""
		}
	} else if strings.HasPrefix(p, "//") {
		p = p[2:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = ""
		}
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimPrefix(p, ".")
	p = strings.TrimRight(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if strings.Contains(p, "{") {
		r.d.note("server URL %q: a variable without a default stays a parameter in every template", raw)
	}
	return p
}

// expandServerURL substitutes each {variable} of raw that has a default
// with it, in one pass: a default is not searched for variables again, so
// defaults naming each other cannot expand without end. It reports false
// when the result would be longer than maxServerURLBytes.
func expandServerURL(raw string, vars map[string]any) (string, bool) {
	if len(vars) == 0 || !strings.Contains(raw, "{") {
		return raw, len(raw) <= maxServerURLBytes
	}
	var b strings.Builder
	rest := raw
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:open])
		name := rest[open+1 : open+end]
		vm, _ := asMap(vars[name])
		if def, ok := vm["default"]; ok {
			b.WriteString(scalarString(def))
		} else {
			b.WriteString(rest[open : open+end+1])
		}
		rest = rest[open+end+1:]
		if b.Len() > maxServerURLBytes {
			return "", false
		}
	}
	return b.String(), b.Len() <= maxServerURLBytes
}
