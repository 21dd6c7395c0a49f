package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Limits on loading an API description: a document is read whole into
// memory, and a slow upstream must not hold up the start for ever.
const openAPIMaxBytes = 16 << 20

// openAPITimeout bounds one fetch of the document, body included; a
// variable so that tests need not wait for it.
var openAPITimeout = 30 * time.Second

// errOpenAPI is wrapped by every error about loading a document.
var errOpenAPI = errors.New("cannot load the OpenAPI document")

// openAPISource is where the document comes from: a file, an absolute
// URL, or a path on the upstream, fetched as a client's request through
// the proxy would be.
type openAPISource struct {
	raw  string   // as configured
	file string   // set for a file
	url  *url.URL // set for an absolute URL or a path on the upstream
	// upstream is true for a path on the upstream.
	upstream bool
	// fileErr, for a path on the upstream, is why it was not read as a
	// file, for the error should the upstream fail too.
	fileErr error
}

// parseOpenAPISource decides what raw names. A value starting with / is a
// file when one exists by that name, since mounted files are the usual
// case in containers, and a path on the upstream otherwise; "file:"
// forces a file.
func parseOpenAPISource(raw string, upstream *url.URL) (openAPISource, error) {
	s := openAPISource{raw: raw}
	switch {
	case strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return s, fmt.Errorf("%w: not a URL with a host", errOpenAPI)
		}
		if u.User != nil {
			return s, fmt.Errorf("%w: credentials in the URL are not supported", errOpenAPI)
		}
		s.url = u
	case strings.HasPrefix(raw, "file:"):
		s.file = strings.TrimPrefix(strings.TrimPrefix(raw, "file:"), "//")
	case strings.HasPrefix(raw, "/"):
		fi, err := os.Stat(raw)
		if err == nil && fi.Mode().IsRegular() {
			s.file = raw
			break
		}
		s.fileErr = notAFile(raw, fi, err)
		if upstream == nil {
			return s, fmt.Errorf("%w: no such file, and without %s (--upstream) it cannot be a path on the upstream", errOpenAPI, envUpstream)
		}
		ref, err := url.Parse(raw)
		if err != nil || ref.Fragment != "" {
			return s, fmt.Errorf("%w: not a file, nor a path and query for the upstream", errOpenAPI)
		}
		// Joined as httputil.ProxyRequest.SetURL joins a forwarded path.
		u := *upstream
		u.Path = strings.TrimSuffix(upstream.Path, "/") + ref.Path
		u.RawPath = ""
		u.RawQuery = ref.RawQuery
		s.url, s.upstream = &u, true
	default:
		s.file = raw
	}
	return s, nil
}

// remote reports whether the document is fetched over HTTP, and so
// re-read every --openapi-refresh.
func (s openAPISource) remote() bool { return s.url != nil }

func (s openAPISource) String() string {
	switch {
	case s.upstream:
		return s.url.String() + " (on the upstream)"
	case s.url != nil:
		return s.url.String()
	}
	return "file " + s.file
}

// read returns the document's bytes, at most openAPIMaxBytes.
func (s openAPISource) read(ctx context.Context, rt http.RoundTripper) ([]byte, error) {
	if s.url == nil {
		f, err := os.Open(s.file)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
		}
		defer f.Close()
		return readLimited(f)
	}
	ctx, cancel := context.WithTimeout(ctx, openAPITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9, application/x-yaml;q=0.9, */*;q=0.5")
	req.Header.Set("User-Agent", "metricsbridge/"+appVersion())
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: GET %s: no complete answer within %s", errOpenAPI, s.url, openAPITimeout)
		}
		return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", errOpenAPI, s.url, resp.Status)
	}
	b, err := readLimited(resp.Body)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: GET %s: no complete answer within %s", errOpenAPI, s.url, openAPITimeout)
	}
	return b, err
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, openAPIMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
	}
	if len(b) > openAPIMaxBytes {
		return nil, fmt.Errorf("%w: the document is larger than %d MiB", errOpenAPI, openAPIMaxBytes>>20)
	}
	return b, nil
}

// apiDescription is what a document yields.
type apiDescription struct {
	version string // "3.1.0", "2.0"
	routes  []tableRoute
	// notes say what was left out or guessed, for the start-up log.
	notes []string
}

var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// parseOpenAPI reads an OpenAPI 3.x or Swagger 2.0 document, JSON or YAML,
// into one route per path and method. Only paths, servers and basePath
// are read, so anything else in the document (schemas, extensions, even
// invalid ones) cannot stop the load.
func parseOpenAPI(data []byte) (*apiDescription, error) {
	root, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	doc, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a JSON or YAML object", errOpenAPI)
	}
	d := &apiDescription{}
	var prefix string
	switch {
	case doc["openapi"] != nil:
		d.version = scalarString(doc["openapi"])
		if !strings.HasPrefix(d.version, "3.") {
			return nil, fmt.Errorf("%w: openapi version %q: want 3.x, or swagger 2.0", errOpenAPI, d.version)
		}
		prefix = serversPrefix(doc["servers"], &d.notes)
	case doc["swagger"] != nil:
		d.version = scalarString(doc["swagger"])
		if d.version != "2.0" && d.version != "2" {
			return nil, fmt.Errorf("%w: swagger version %q: want 2.0, or openapi 3.x", errOpenAPI, d.version)
		}
		d.version = "2.0"
		bp, _ := doc["basePath"].(string)
		prefix = strings.TrimRight(bp, "/")
		if prefix != "" && !strings.HasPrefix(prefix, "/") {
			prefix = "/" + prefix
		}
	default:
		return nil, fmt.Errorf("%w: neither an openapi nor a swagger field: not an OpenAPI 3 or Swagger 2.0 document", errOpenAPI)
	}
	paths, ok := asMap(doc["paths"])
	if !ok || len(paths) == 0 {
		return nil, fmt.Errorf("%w: the document has no paths", errOpenAPI)
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, p := range keys {
		if !strings.HasPrefix(p, "/") {
			if !strings.HasPrefix(p, "x-") {
				d.notes = append(d.notes, fmt.Sprintf("path %q left out: does not start with /", p))
			}
			continue
		}
		item, external := resolvePathItem(doc, paths[p], &d.notes, p)
		itemPrefix := prefix
		if item != nil && item["servers"] != nil && !d.is2() {
			itemPrefix = serversPrefix(item["servers"], &d.notes)
		}
		add := func(method, pfx string) {
			t := pfx + p
			segs, err := parseTemplate(t)
			if err != nil {
				d.notes = append(d.notes, fmt.Sprintf("%s %s left out: the template %v", method, t, err))
				return
			}
			d.routes = append(d.routes, tableRoute{method: method, template: t, segs: segs})
		}
		if external {
			// The methods are behind a reference we do not follow; the
			// template is known, so it labels every method.
			for _, m := range operationKeys {
				add(strings.ToUpper(m), itemPrefix)
			}
			continue
		}
		for _, m := range operationKeys {
			op, ok := asMap(item[m])
			if !ok {
				continue
			}
			opPrefix := itemPrefix
			if op["servers"] != nil && !d.is2() {
				opPrefix = serversPrefix(op["servers"], &d.notes)
			}
			add(strings.ToUpper(m), opPrefix)
		}
	}
	if len(d.routes) == 0 {
		return nil, fmt.Errorf("%w: the document has no operations (get, post, ...) under its paths", errOpenAPI)
	}
	return d, nil
}

func (d *apiDescription) is2() bool { return d.version == "2.0" }

// decodeDocument decodes JSON with encoding/json, which is much faster
// than the YAML decoder on large documents, and anything else as YAML.
func decodeDocument(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var v any
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(trimmed, &v); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line := 1 + bytes.Count(trimmed[:se.Offset], []byte("\n"))
				return nil, fmt.Errorf("%w: not valid JSON: line %d: %v", errOpenAPI, line, err)
			}
			return nil, fmt.Errorf("%w: not valid JSON: %v", errOpenAPI, err)
		}
		return v, nil
	}
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the document is empty", errOpenAPI)
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: not valid YAML or JSON: %v", errOpenAPI, err)
	}
	return v, nil
}

// asMap accepts both map forms the decoders produce: YAML gives
// map[any]any when a mapping has a key that is not a string, such as a
// response code.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func scalarString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case float64:
		// YAML and JSON both turn an unquoted 2.0 into a number.
		if s == float64(int64(s)) {
			return fmt.Sprintf("%.1f", s)
		}
	}
	return fmt.Sprint(v)
}

// maxRefHops bounds a chain of path items referring to each other.
const maxRefHops = 8

// resolvePathItem follows a path item's $ref within the document, merging
// the fields beside it over the referenced ones. external is true when
// the reference leads outside the document (or nowhere): the methods are
// then unknown.
func resolvePathItem(doc map[string]any, v any, notes *[]string, path string) (item map[string]any, external bool) {
	item, ok := asMap(v)
	if !ok {
		if v != nil {
			*notes = append(*notes, fmt.Sprintf("path %q left out: its item is not an object", path))
		}
		return nil, false
	}
	for hop := 0; ; hop++ {
		ref, ok := item["$ref"].(string)
		if !ok {
			return item, false
		}
		if hop == maxRefHops {
			*notes = append(*notes, fmt.Sprintf("path %q: $ref chain longer than %d; labelled for every method", path, maxRefHops))
			return nil, true
		}
		target, ok := resolvePointer(doc, ref)
		if !ok {
			*notes = append(*notes, fmt.Sprintf("path %q: $ref %q is not followed; labelled for every method", path, ref))
			return nil, true
		}
		merged := make(map[string]any, len(target)+len(item))
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range item {
			if k != "$ref" {
				merged[k] = v
			}
		}
		if _, again := target["$ref"]; !again {
			delete(merged, "$ref")
		} else {
			merged["$ref"] = target["$ref"]
		}
		item = merged
	}
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
				var i int
				if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
					return nil, false
				}
				cur = c[i]
			default:
				m, ok := asMap(c)
				if !ok {
					return nil, false
				}
				if cur, ok = m[tok]; !ok {
					return nil, false
				}
			}
		}
	}
	return asMap(cur)
}

// serversPrefix is the path of servers[0].url with its variables at their
// defaults, without a trailing slash: "https://api.example.com/v1" and
// "/v1" both give "/v1".
func serversPrefix(v any, notes *[]string) string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return ""
	}
	s, _ := asMap(list[0])
	raw, _ := s["url"].(string)
	if vars, ok := asMap(s["variables"]); ok {
		for name, def := range vars {
			dm, _ := asMap(def)
			if d, ok := dm["default"]; ok {
				raw = strings.ReplaceAll(raw, "{"+name+"}", scalarString(d))
			}
		}
	}
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
		*notes = append(*notes, fmt.Sprintf("server URL %q: a variable without a default stays a parameter in every template", raw))
	}
	return p
}

// openAPIRoutes is a loaded document: where from, what it held, and the
// table that labels requests with it.
type openAPIRoutes struct {
	source  openAPISource
	version string
	table   *routeTable
	notes   []string
	sum     [sha256.Size]byte
}

// loadOpenAPI reads and parses the document of src.
func loadOpenAPI(ctx context.Context, src openAPISource, rt http.RoundTripper) (*openAPIRoutes, error) {
	data, err := src.read(ctx, rt)
	if err != nil {
		return nil, err
	}
	d, err := parseOpenAPI(data)
	if err != nil {
		return nil, err
	}
	return &openAPIRoutes{
		source: src, version: d.version, table: newRouteTable(d.routes), notes: d.notes,
		sum: sha256.Sum256(data),
	}, nil
}

// summary is the one-line account check and the start-up log give.
func (o *openAPIRoutes) summary() string {
	s := fmt.Sprintf("%d from %s (%s %s", o.table.size, o.source, o.kind(), o.version)
	switch n := len(o.table.conflicts); {
	case o.table.conflictsIncomplete:
		s += fmt.Sprintf("; %d conflicting pairs or more", n)
	case n == 1:
		s += "; 1 conflicting pair"
	case n > 1:
		s += fmt.Sprintf("; %d conflicting pairs", n)
	}
	return s + ")"
}

func (o *openAPIRoutes) kind() string {
	if o.version == "2.0" {
		return "Swagger"
	}
	return "OpenAPI"
}

// loadOpenAPISetting reads METRICS_OPENAPI and METRICS_OPENAPI_REFRESH and
// loads the document, so that a document that cannot be loaded stops
// serve and check at start. It fetches nothing when load is false, as when
// other settings are already wrong.
func loadOpenAPISetting(s *serverSettings, lookup env.Lookup, load bool) error {
	var err error
	s.openapiRefresh, err = env.Duration(lookup, envOpenAPIRefresh, 5*time.Minute, 0, 24*time.Hour)
	if err == nil && s.openapiRefresh > 0 && s.openapiRefresh < time.Second {
		err = env.Errorf(envOpenAPIRefresh, env.String(lookup, envOpenAPIRefresh, ""), "want 0 (no timer) or at least 1s: every refresh fetches the whole document")
	}
	raw := env.String(lookup, envOpenAPI, "")
	switch {
	case err != nil || raw == "":
		return err
	case s.upstream == nil:
		if env.String(lookup, envUpstream, "") != "" {
			return nil // the bad upstream is reported on its own
		}
		return env.Errorf(envOpenAPI, raw, "route templates label proxied requests; set %s (--upstream) too", envUpstream)
	case !load:
		return nil
	}
	src, err := parseOpenAPISource(raw, s.upstream)
	if err == nil {
		s.transport = newUpstreamTransport(*s)
		s.openapi, err = loadOpenAPI(context.Background(), src, s.transport)
		err = withFileAttempt(src, err)
	}
	if err != nil {
		return env.Errorf(envOpenAPI, raw, "%v", err)
	}
	return nil
}

// routeSummary says how many templates label proxied requests, and where
// they came from.
func (s serverSettings) routeSummary() string {
	var parts []string
	if len(s.routes) > 0 {
		parts = append(parts, fmt.Sprintf("%d from %s", len(s.routes), envRoutes))
	}
	if s.openapi != nil {
		parts = append(parts, s.openapi.summary())
	}
	if len(parts) == 0 {
		return "none (every proxied request is handler=none)"
	}
	return strings.Join(parts, ", ")
}

// maxReported bounds how many conflicts and notes are logged one by one.
const maxReported = 20

// reportOpenAPI logs what a (re)loaded document brought: at start
// everything, after a reload only what prev did not already report.
func (p *proxy) reportOpenAPI(prev, o *openAPIRoutes, explicit int) {
	if prev == nil {
		p.logger.Info("route templates from the OpenAPI document", "source", o.source.String(), "version", o.kind()+" "+o.version,
			"templates", o.table.size, "routes_templates", explicit, "conflicting_pairs", len(o.table.conflicts))
	}
	seen := map[string]bool{}
	if prev != nil {
		for _, n := range prev.notes {
			seen[n] = true
		}
		for _, c := range prev.table.conflicts {
			seen[c.winner+"\x00"+c.loser] = true
		}
	}
	n := 0
	for _, note := range o.notes {
		if seen[note] {
			continue
		}
		if n++; n <= maxReported {
			p.logger.Warn("OpenAPI document", "source", o.source.String(), "note", note)
		}
	}
	if n > maxReported {
		p.logger.Warn("OpenAPI document: more notes not listed", "count", n-maxReported)
	}
	n = 0
	for _, c := range o.table.conflicts {
		if seen[c.winner+"\x00"+c.loser] {
			continue
		}
		if n++; n <= maxReported {
			args := []any{"winner", c.winner, "loser", c.loser, "example", c.example}
			if c.taken != "" {
				args = append(args, "example_taken_by", c.taken)
			}
			p.logger.Warn("OpenAPI templates overlap; the literal segment wins, left to right", args...)
		}
	}
	if n > maxReported {
		p.logger.Warn("more overlapping OpenAPI template pairs not listed", "count", n-maxReported)
	}
	if o.table.conflictsIncomplete {
		p.logger.Warn("OpenAPI document too large to compare every pair of templates; overlaps beyond those listed are resolved the same way but not reported",
			"comparisons", conflictBudget)
	}
}

// watchOpenAPI re-reads the document on SIGHUP and, when it came over
// HTTP, every refresh, until ctx ends. A reload that fails keeps the
// routes in use and is logged once until one succeeds again.
func (p *proxy) watchOpenAPI(ctx context.Context, refresh time.Duration) {
	if p.openapi.Load() == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var tick <-chan time.Time
	var ticker *time.Ticker
	if p.openapi.Load().source.remote() && refresh > 0 {
		ticker = time.NewTicker(refresh)
		tick = ticker.C
	}
	go func() {
		defer signal.Stop(hup)
		if ticker != nil {
			defer ticker.Stop()
		}
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			case <-tick:
			}
			failing = p.reloadOpenAPI(ctx, failing)
		}
	}()
}

// reloadOpenAPI loads the document again and swaps it in when it
// changed; it returns whether the load failed.
func (p *proxy) reloadOpenAPI(ctx context.Context, failing bool) bool {
	cur := p.openapi.Load()
	next, err := loadOpenAPI(ctx, cur.source, p.rp.Transport)
	switch {
	case err != nil && ctx.Err() != nil:
		return failing
	case err != nil && !failing:
		p.logger.Warn("OpenAPI reload failed; keeping the current route templates until a reload succeeds",
			"source", cur.source.String(), "templates", cur.table.size, "err", err)
		return true
	case err != nil:
		p.logger.Debug("OpenAPI reload failed again", "err", err)
		return true
	case failing:
		p.logger.Info("OpenAPI document loads again", "source", cur.source.String())
	}
	if next.sum == cur.sum {
		p.logger.Debug("OpenAPI document unchanged", "source", cur.source.String())
		return false
	}
	p.openapi.Store(next)
	p.logger.Info("OpenAPI document reloaded", "source", next.source.String(), "version", next.kind()+" "+next.version,
		"templates", next.table.size, "previous_templates", cur.table.size, "conflicting_pairs", len(next.table.conflicts))
	p.reportOpenAPI(cur, next, 0)
	return false
}
