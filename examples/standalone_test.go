package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const module = "github.com/metricsbridge/metricsbridge"

// Every Go example program builds when its folder is copied into a module
// of its own, as a user starts from one: it imports only public packages
// of this module (and its router), since a module path outside this one
// cannot import internal packages. The copy keeps its go.mod (or gets this
// module's requirements when it has none) with a replace to this checkout.
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
		dir := filepath.Dir(m)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Type().IsRegular() {
					if err := os.WriteFile(filepath.Join(tmp, e.Name()), readFile(t, filepath.Join(dir, e.Name())), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			edit := []string{"mod", "edit", "-module", "example.com/" + name}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
				// An example of the root module: its requirements are the
				// root's.
				for _, f := range []string{"go.mod", "go.sum"} {
					if err := os.WriteFile(filepath.Join(tmp, f), readFile(t, filepath.Join(root, f)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				edit = append(edit, "-require", module+"@v0.0.0")
			} else {
				edit = append(edit, "-dropreplace", module)
			}
			edit = append(edit, "-replace", module+"="+root)
			for _, args := range [][]string{edit, {"build", "-mod=mod", "-o", os.DevNull, "."}} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = tmp
				cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %v: %v\n%s", args, err, out)
				}
			}
		})
	}
}

// The example programs that serve a scrape endpoint share serve.go, copied
// into each so that each folder stands alone; the copies stay identical.
func TestExampleRunnersAgree(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("go", "*", "serve.go"))
	if err != nil || len(files) < 2 {
		t.Fatalf("serve.go files %q, %v", files, err)
	}
	want := readFile(t, files[0])
	for _, f := range files[1:] {
		if !bytes.Equal(readFile(t, f), want) {
			t.Errorf("%s differs from %s", f, files[0])
		}
	}
}
