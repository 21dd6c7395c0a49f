package jwtkeys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask aside
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want, wantErr string
		loose                     bool
	}{
		{"trailing newline dropped", write("ok.key", "k3y\n", 0o600), "k3y", "", false},
		{"CRLF dropped", write("crlf.key", "k3y\r\n", 0o600), "k3y", "", false},
		{"inner space kept", write("space.key", "k 3y \n", 0o600), "k 3y ", "", false},
		{"readable by others", write("open.key", "k3y", 0o644), "k3y", "", true},
		{"empty", write("empty.key", "\n", 0o600), "", "the secret file is empty", false},
		{"directory", dir, "", "cannot read the secret file", false},
		{"missing", filepath.Join(dir, "missing"), "", "cannot read the secret file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, warning, err := ReadSecretFile(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadSecretFile = %q, %v; want an error containing %q", s, err, tc.wantErr)
				}
				return
			}
			if err != nil || s != tc.want {
				t.Fatalf("ReadSecretFile = %q, %v; want %q", s, err, tc.want)
			}
			if (warning != "") != tc.loose {
				t.Errorf("warning = %q, want one: %v", warning, tc.loose)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"hs256", "HS256", true},
		{"eddsa", "EdDSA", true},
		{"none", "none", false},
	} {
		if got, ok := Canonical(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	a := Algorithms()
	a[0] = "none"
	if Algorithms()[0] != "HS256" {
		t.Error("Algorithms returns the package's own slice")
	}
}
