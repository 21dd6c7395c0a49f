package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
)

// Limits on loading an API description: a document is read whole into
// memory, and a slow upstream must not hold up the start for ever.
const openAPIMaxBytes = routes.MaxDocumentBytes

// openAPITimeout bounds one fetch of the document, body included; a
// variable so that tests need not wait for it.
var openAPITimeout = 30 * time.Second

// errOpenAPI is wrapped by every error about loading a document.
var errOpenAPI = routes.ErrDocument

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
		// As a credential file is read: a FIFO or a device named by
		// mistake is refused at once rather than blocking the start or a
		// reload. A document is no secret, so who may read it does not
		// matter.
		b, _, err := credfile.Read(s.file, openAPIMaxBytes)
		if errors.Is(err, credfile.ErrTooLarge) {
			return nil, fmt.Errorf("%w: the document is larger than %d MiB", errOpenAPI, openAPIMaxBytes>>20)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
		}
		return b, nil
	}
	ctx, cancel := context.WithTimeout(ctx, openAPITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOpenAPI, err)
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9, application/x-yaml;q=0.9, */*;q=0.5")
	req.Header.Set("User-Agent", "metricsbridge/"+appVersion())
	client := &http.Client{Transport: rt, CheckRedirect: sameHostRedirect}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL it failed on, the last redirect's
		// when there was one.
		at := s.url.String()
		var ue *url.Error
		if errors.As(err, &ue) {
			at, err = ue.URL, ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: GET %s: no complete answer within %s", errOpenAPI, at, openAPITimeout)
		}
		return nil, fmt.Errorf("%w: GET %s: %w", errOpenAPI, at, err)
	}
	defer resp.Body.Close()
	at := resp.Request.URL
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", errOpenAPI, at, resp.Status)
	}
	b, err := readLimited(resp.Body)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: GET %s: no complete answer within %s", errOpenAPI, at, openAPITimeout)
	}
	return b, err
}

// errOtherHost refuses a redirect of the document to another host: the
// document decides the labels of every request, so it comes from the
// host configured or not at all.
var errOtherHost = errors.New("redirect to another host not followed")

// sameHostRedirect follows at most 10 redirects, all on the scheme and
// host of the first request.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if first := via[0].URL; req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return errOtherHost
	}
	return nil
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

// openAPIRoutes is a loaded document: where from, what it held, and the
// table that labels requests with it.
type openAPIRoutes struct {
	source  openAPISource
	version string
	table   *routes.Table
	notes   []string
	sum     [sha256.Size]byte
}

// loadOpenAPI reads and parses the document of src; ctx cancels both.
func loadOpenAPI(ctx context.Context, src openAPISource, rt http.RoundTripper) (*openAPIRoutes, error) {
	data, err := src.read(ctx, rt)
	if err != nil {
		return nil, err
	}
	t, err := routes.FromOpenAPI(ctx, data)
	if err != nil {
		return nil, err
	}
	return &openAPIRoutes{
		source: src, version: t.Version(), table: t, notes: t.Notes(),
		sum: sha256.Sum256(data),
	}, nil
}

// summary is the one-line account check and the start-up log give.
func (o *openAPIRoutes) summary() string {
	s := fmt.Sprintf("%d from %s (%s %s", o.table.Len(), o.source, o.kind(), o.version)
	switch c := o.table.Conflicts(); {
	case c.Incomplete:
		s += fmt.Sprintf("; %d conflicting pairs or more", c.Count)
	case c.Count == 1:
		s += "; 1 conflicting pair"
	case c.Count > 1:
		s += fmt.Sprintf("; %d conflicting pairs", c.Count)
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
func loadOpenAPISetting(ctx context.Context, s *serverSettings, lookup env.Lookup, load bool) error {
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
		// ctx is the process's: a signal while the document loads
		// cancels the load, and the caller, which sees ctx ended, reports
		// the interruption. A second watcher of the signal here would race
		// with it and could turn the interruption into a configuration
		// error with another exit status.
		s.transport = newUpstreamTransport(*s)
		s.openapi, err = loadOpenAPI(ctx, src, s.transport)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("loading %s: %w", envOpenAPI, context.Cause(ctx))
		}
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
			"templates", o.table.Len(), "routes_templates", explicit, "conflicting_pairs", o.table.Conflicts().Count)
	}
	seen := map[string]bool{}
	if prev != nil {
		for _, n := range prev.notes {
			seen[n] = true
		}
		for _, c := range prev.table.Conflicts().First {
			seen[c.Winner+"\x00"+c.Loser] = true
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
	report := o.table.Conflicts()
	for _, c := range report.First {
		if seen[c.Winner+"\x00"+c.Loser] {
			continue
		}
		if n++; n <= maxReported {
			args := []any{"winner", c.Winner, "loser", c.Loser, "example", c.Example}
			if c.TakenBy != "" {
				args = append(args, "example_taken_by", c.TakenBy)
			}
			p.logger.Warn("OpenAPI templates overlap; the literal segment wins, left to right", args...)
		}
	}
	if more := report.Count - len(report.First); more > 0 && (prev == nil || report.Count != prev.table.Conflicts().Count) {
		p.logger.Warn("more overlapping OpenAPI template pairs not listed", "count", more)
	}
	if report.Incomplete {
		p.logger.Warn("OpenAPI document too large to compare every pair of templates (4 million comparisons); overlaps beyond those counted are resolved the same way but not reported")
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
			"source", cur.source.String(), "templates", cur.table.Len(), "err", err)
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
		"templates", next.table.Len(), "previous_templates", cur.table.Len(), "conflicting_pairs", next.table.Conflicts().Count)
	p.reportOpenAPI(cur, next, 0)
	return false
}
