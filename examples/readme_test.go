package examples

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

// readmeSection returns the text of README.md after the heading line
// (exactly as written) up to the next heading of any level.
func readmeSection(t testing.TB, heading string) string {
	t.Helper()
	return docSection(t, "README.md", heading)
}

// docSection returns the text of the Markdown file at path (relative to
// the module root) after the heading line (exactly as written) up to the
// next heading of any level.
func docSection(t testing.TB, path, heading string) string {
	t.Helper()
	text := string(readFile(t, filepath.Join("..", path)))
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q", path, heading)
	}
	body := text[start+len(heading)+2:]
	for i := 0; i < len(body); {
		line, _, _ := strings.Cut(body[i:], "\n")
		if strings.HasPrefix(line, "#") && !inFence(body[:i]) {
			return body[:i]
		}
		i += len(line) + 1
	}
	return body
}

// inFence reports whether text ends inside a ``` block.
func inFence(text string) bool {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "```") {
			n++
		}
	}
	return n%2 == 1
}

// codeBlocks returns the bodies of the fenced blocks of section whose
// info string is lang.
func codeBlocks(section, lang string) []string {
	var blocks []string
	var cur []string
	in, want := false, false
	for _, l := range strings.Split(section, "\n") {
		switch {
		case !in && strings.HasPrefix(l, "```"):
			in, want, cur = true, strings.TrimPrefix(l, "```") == lang, nil
		case in && l == "```":
			if want {
				blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			}
			in = false
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// The identifiers README's library snippets take as given. They are
// package-level, so a snippet may declare its own or use these.
const snippetPrelude = `package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
)

var (
	_ = log.Fatal
	_ = os.LookupEnv
	_ = otelhttp.NewHandler
	_ = auth.ConfigFromEnv
	_ = routes.New
)

var (
	mux         = http.NewServeMux()
	ctx         = context.Background()
	cfg         otelmetrics.Config
	p           *otelmetrics.Provider
	acfg        auth.Config
	v           *auth.Verifier
	table       *routes.Table
	h           http.Handler
	proxy       http.Handler
	openapiJSON []byte
	err         error
)

func requestID(next http.Handler) http.Handler { return next }

func main() {}
`

// The sections whose Go snippets a user copies into a program: README's
// first steps, then the pages of docs/ that continue them.
var snippetSections = []struct{ file, heading string }{
	{"README.md", "## Using the library"},
	{"docs/configuration.md", "## In a Go program"},
	{"docs/routes.md", "## Labelling routes in a Go program"},
	{"docs/routes.md", "## Route tables from patterns and OpenAPI documents"},
	{"docs/tokens.md", "## Protecting the endpoint in a Go program"},
	{"docs/dashboard.md", "## Mounting it in a Go program"},
}

// Every Go snippet of those sections compiles in a module of its own that
// takes this one the way README's "Using the library" says: its sh block,
// run as written, with the checkout at ../metricsbridge. Each snippet is
// the body of a function of its own, with the identifiers it takes as
// given declared once above.
func TestReadmeLibrarySnippetsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var snippets []string
	for _, s := range snippetSections {
		section := docSection(t, s.file, s.heading)
		blocks := codeBlocks(section, "go")
		if len(blocks) == 0 {
			t.Errorf("%s %q has no go block", s.file, s.heading)
		}
		snippets = append(snippets, blocks...)
	}
	install := codeBlocks(readmeSection(t, "## Using the library"), "sh")
	if len(snippets) < 7 || len(install) != 1 {
		t.Fatalf("%d go blocks in the library sections and %d sh blocks under Using the library", len(snippets), len(install))
	}

	tmp := t.TempDir()
	if err := os.Symlink(root, filepath.Join(tmp, "metricsbridge")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(tmp, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	src.WriteString(snippetPrelude)
	for i, s := range snippets {
		fmt.Fprintf(&src, "\nfunc snippet%d() {\n%s\t_, _, _, _, _, _, _ = cfg, p, acfg, v, table, h, err\n}\n", i, s)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// go.sum from this checkout stands for the network a user has: the
	// test resolves nothing from outside the module cache.
	if err := os.WriteFile(filepath.Join(app, "go.sum"), readFile(t, filepath.Join(root, "go.sum")), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = app, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, out, src.String())
		}
	}
	run("go", "mod", "init", "example.com/app")
	run("bash", "-euo", "pipefail", "-c", install[0])
	// -mod=mod stands for the go mod tidy README asks for next, which
	// would also fetch the test dependencies of dependencies.
	run("go", "vet", "-mod=mod", ".")
	run("go", "build", "-o", os.DevNull, ".")
}

// freePort returns a loopback port nothing listens on at the moment.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// README's quick start, walked as a newcomer would: every sh block of the
// section, in order, as one shell session in an empty folder that holds
// the checkout's files (so `go build` and the example paths work as from a
// checkout), each command traced and any failure fatal. Only the ports
// change, to free loopback ones, since the machine running the tests may
// use 4444 or 9090. Then the scrape it printed must show the requests it
// made, and the Prometheus it started must scrape the bridge with the
// token file as written, newline included.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts Prometheus")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(readmeSection(t, "## Quick start"), "sh")
	if len(blocks) != 3 {
		t.Fatalf("%d sh blocks in the quick start, want 3 (demo, Prometheus, in front of a service)", len(blocks))
	}
	bridge, prom := freePort(t), freePort(t)
	// Before the last block stops the demo gateway, the session waits (at
	// most a minute) for Prometheus's first scrape, due within one 15 s
	// interval of its start; whether it succeeded is judged below.
	wait := `for i in $(seq 60); do curl -s 127.0.0.1:9090/api/v1/targets | grep -q '"health":"up"' && break; sleep 1; done` + "\n"
	script := blocks[0] + blocks[1] + wait + blocks[2]
	script = strings.ReplaceAll(script, "127.0.0.1:4444", "127.0.0.1:"+bridge)
	script = strings.ReplaceAll(script, "--port 4444", "--port "+bridge)
	script = strings.ReplaceAll(script, "127.0.0.1:9090", "127.0.0.1:"+prom)

	dir := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Name() == "bin" {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "session.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	promDir := filepath.Dir(promtest.Tool(t, "prometheus"))
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-ex", "-c", script)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "PORT="+bridge, "PATH="+promDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOWORK=off", "GOTOOLCHAIN=local")
	// The session's background jobs share its process group; all of it
	// ends with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { stopGroup(pgid) })
	err = cmd.Wait()
	log := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	if err != nil {
		t.Fatalf("the quick start failed: %v\n%s", err, log())
	}

	for _, re := range []string{
		`(?m)^http_requests_total\{[^}]*handler="/tools/invoke"[^}]*status="200"[^}]*\} 1$`,
		`(?m)^http_requests_total\{[^}]*handler="/servers/\{id\}/sse"[^}]*status="200"[^}]*\} 1$`,
	} {
		if !regexp.MustCompile(re).MatchString(log()) {
			t.Errorf("the scrape printed no line matching %s:\n%s", re, log())
		}
	}

	// The Prometheus the session started scraped the demo gateway with
	// the token file as written, newline included.
	q := "http://127.0.0.1:" + prom + "/api/v1/query?query=" +
		url.QueryEscape(`max_over_time(up{job="mcp-gateway"}[10m])`)
	if v := queryValue(t, q); v != "1" {
		t.Errorf("Prometheus's up for the demo gateway: %q, want 1:\n%s", v, log())
	}

	// The service put in front of it answers its scrape, with metrics on.
	token, err := os.ReadFile(filepath.Join(dir, "metrics-token.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+bridge+"/metrics/prometheus", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	var code int
	for range 50 {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if code = resp.StatusCode; code == http.StatusOK {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != http.StatusOK {
		t.Errorf("the proxy's scrape endpoint: %d, want 200:\n%s", code, log())
	}
}

// queryValue returns the value of the one sample of an instant query, ""
// when there is not exactly one.
func queryValue(t testing.TB, q string) string {
	t.Helper()
	resp, err := http.Get(q)
	if err != nil {
		return err.Error() // the caller shows what the session printed
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Data.Result) != 1 {
		return fmt.Sprint(err, body)
	}
	return fmt.Sprint(body.Data.Result[0].Value[1])
}

// stopGroup ends a process group: SIGTERM, then SIGKILL to whatever is
// left after 10 s.
func stopGroup(pgid int) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil {
		return
	}
	for range 100 {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
}

// docFiles are the Markdown files a user reads, relative to the module
// root: README.md, CONTRIBUTING.md, CHANGELOG.md and every page of docs/.
func docFiles(t testing.TB) []string {
	t.Helper()
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md", "CONTRIBUTING.md", "CHANGELOG.md"}
	for _, p := range pages {
		files = append(files, filepath.ToSlash(strings.TrimPrefix(p, "../")))
	}
	return files
}

// withoutFences returns text with the lines of its ``` blocks blanked.
func withoutFences(text string) string {
	lines := strings.Split(text, "\n")
	fenced := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			lines[i] = ""
		} else if fenced {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors returns the anchors GitHub derives from the headings of
// a Markdown text: lower case, spaces as hyphens, punctuation other than
// hyphens and underscores dropped, and -1, -2, ... on repeats.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, l := range strings.Split(withoutFences(text), "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link of the documentation resolves: the file (or folder)
// it names exists in the checkout, and its #anchor is a heading of the
// Markdown file it points into, by the anchor GitHub derives. Pages move
// and sections are renamed; the links must follow. Every page of docs/ is
// reachable from README.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	anchorsOf := map[string]map[string]bool{}
	anchors := func(file string) map[string]bool {
		if a, ok := anchorsOf[file]; ok {
			return a
		}
		anchorsOf[file] = headingAnchors(string(readFile(t, filepath.Join(root, file))))
		return anchorsOf[file]
	}
	files := docFiles(t)
	if len(files) < 12 {
		t.Fatalf("only %d documentation files: %v", len(files), files)
	}
	linked := map[string]bool{}
	count := 0
	for _, file := range files {
		text := withoutFences(string(readFile(t, filepath.Join(root, file))))
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			count++
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
				if strings.HasPrefix(dest, "../") {
					t.Errorf("%s links to %s, outside the checkout", file, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
					t.Errorf("%s links to %s: %v", file, target, err)
					continue
				}
			}
			if file == "README.md" {
				linked[dest] = true
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s links to %s: an anchor in a file that is not Markdown", file, target)
				continue
			}
			if !anchors(dest)[anchor] {
				t.Errorf("%s links to %s, but no heading of %s gives #%s", file, target, dest, anchor)
			}
		}
	}
	if count < 40 {
		t.Errorf("only %d relative links in the documentation", count)
	}
	for _, file := range files {
		if strings.HasPrefix(file, "docs/") && !linked[file] {
			t.Errorf("README does not link to %s", file)
		}
	}
}

// The anchors follow GitHub's rules, repeats included.
func TestDocAnchorSlugs(t *testing.T) {
	got := headingAnchors("# Routes: the `handler` label\n## gorilla/mux\n```\n# not a heading\n```\n## `ENABLE_METRICS=false`\n## Probes\n### Probes\n")
	for _, want := range []string{"routes-the-handler-label", "gorillamux", "enable_metricsfalse", "probes", "probes-1"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("a comment in a code block became an anchor: %v", got)
	}
}

// README is the front door: the quick start, the first steps with the
// library, the packages and the index of docs/, and nothing longer.
func TestReadmeLength(t *testing.T) {
	const limit = 300
	if n := strings.Count(string(readFile(t, "../README.md")), "\n"); n > limit {
		t.Errorf("README.md has %d lines, more than %d: move the reference into docs/", n, limit)
	}
}

// The Go version README asks for is go.mod's, where a user starts: the
// quick start and the library's section both name it.
func TestReadmeGoVersion(t *testing.T) {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readFile(t, "../go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	want := "Go " + string(m[1]) + " or later"
	for _, h := range []string{"## Quick start", "## Using the library"} {
		if !strings.Contains(strings.Join(strings.Fields(readmeSection(t, h)), " "), want) {
			t.Errorf("README's %q does not say %q", h, want)
		}
	}
}
