// Package apisurface guards the size of the module's public API: what a
// user has to learn grows with every exported name.
package apisurface

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// maxExported bounds the exported identifiers of all public packages:
// package-level constants, variables, functions and types, and the methods
// of exported types (struct fields are not counted).
const maxExported = 150

func TestExportedIdentifiers(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	counts := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch base := d.Name(); {
		case p != root && (strings.HasPrefix(base, ".") || base == "testdata"),
			rel == "internal", rel == "cmd", rel == "examples":
			return filepath.SkipDir
		}
		names, err := exported(p)
		if err != nil {
			return err
		}
		if len(names) > 0 {
			counts[filepath.ToSlash(rel)] = names
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	total := 0
	for p, names := range counts {
		pkgs = append(pkgs, p)
		total += len(names)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		t.Logf("%3d %s: %s", len(counts[p]), p, strings.Join(counts[p], " "))
	}
	t.Logf("%d exported identifiers in %d packages (at most %d)", total, len(pkgs), maxExported)
	if total > maxExported {
		t.Errorf("%d exported identifiers, more than %d: unexport helpers, move what only cmd uses to internal/", total, maxExported)
	}
	if len(pkgs) < 7 {
		t.Errorf("only %d public packages found (%v): the walk is broken", len(pkgs), pkgs)
	}
}

func exported(dir string) ([]string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, pkg := range pkgs {
		var files []*ast.File
		for _, f := range pkg.Files {
			files = append(files, f)
		}
		d, err := doc.NewFromFiles(fset, files, "example.com/"+pkg.Name)
		if err != nil {
			return nil, err
		}
		values := func(vs []*doc.Value) {
			for _, v := range vs {
				names = append(names, v.Names...)
			}
		}
		values(d.Consts)
		values(d.Vars)
		for _, f := range d.Funcs {
			names = append(names, f.Name)
		}
		for _, typ := range d.Types {
			names = append(names, typ.Name)
			values(typ.Consts)
			values(typ.Vars)
			for _, f := range typ.Funcs {
				names = append(names, f.Name)
			}
			for _, m := range typ.Methods {
				names = append(names, typ.Name+"."+m.Name)
			}
		}
	}
	return names, nil
}
