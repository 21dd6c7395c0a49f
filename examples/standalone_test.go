package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/metricsbridge/metricsbridge"

// Every Go example program builds when its main.go is copied alone into a
// module of its own, as a user starts from one: it imports only public
// packages of this module and its router's, since a module path outside
// this one cannot import internal packages, and needs no other file of its
// folder. The copy's go.mod is the examples module's under another module
// path, with the replace pointing at this checkout.
func TestExamplesStandAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mains, err := filepath.Glob(filepath.Join("go", "*", "main.go"))
	if err != nil || len(mains) < 8 {
		t.Fatalf("example programs %q, %v", mains, err)
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			for src, dst := range map[string]string{m: "main.go", "go/go.mod": "go.mod", "go/go.sum": "go.sum"} {
				if err := os.WriteFile(filepath.Join(tmp, dst), readFile(t, src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, args := range [][]string{
				{"mod", "edit", "-module", "example.com/" + name, "-dropreplace", module, "-replace", module + "=" + root},
				{"build", "-mod=mod", "-o", os.DevNull, "."},
			} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = tmp
				cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
