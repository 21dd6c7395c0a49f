package examples

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSection returns the text of README.md after the heading line
// (exactly as written) up to the next heading of any level.
func readmeSection(t testing.TB, heading string) string {
	t.Helper()
	text := string(readFile(t, "../README.md"))
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README.md has no %q", heading)
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

// Every Go snippet under "Using the library" compiles in a module of its
// own that takes this one the way that section says: its sh block, run
// as written, with the checkout at ../metricsbridge. Each snippet is the
// body of a function of its own, with the identifiers it takes as given
// declared once above.
func TestReadmeLibrarySnippetsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	section := readmeSection(t, "## Using the library")
	snippets := codeBlocks(section, "go")
	install := codeBlocks(section, "sh")
	if len(snippets) < 6 || len(install) != 1 {
		t.Fatalf("%d go and %d sh blocks under Using the library", len(snippets), len(install))
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
