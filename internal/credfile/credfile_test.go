//go:build unix

package credfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("k", size)), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask aside
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", 40, 0o400), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		max     int64
		wantErr error
		wantLen int
		loose   bool
	}{
		{"private file", write("private", 40, 0o600), MaxSecretBytes, nil, 40, false},
		{"world-readable file", write("open", 40, 0o644), MaxSecretBytes, nil, 40, true},
		{"group-readable file", write("group", 40, 0o640), MaxSecretBytes, nil, 40, true},
		{"symbolic link, as Kubernetes mounts Secrets", link, MaxSecretBytes, nil, 40, false},
		{"exactly the cap", write("cap", 100, 0o600), 100, nil, 100, false},
		{"one byte above the cap", write("big", 101, 0o600), 100, ErrTooLarge, 0, false},
		{"a FIFO nobody writes to", fifo, MaxSecretBytes, ErrNotRegular, 0, false},
		{"an endless device", "/dev/zero", MaxSecretBytes, ErrNotRegular, 0, false},
		{"a directory", dir, MaxSecretBytes, ErrNotRegular, 0, false},
		{"missing", filepath.Join(dir, "nope"), MaxSecretBytes, os.ErrNotExist, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var (
				b       []byte
				warning string
				err     error
			)
			go func() {
				defer close(done)
				b, warning, err = Read(tc.path, tc.max)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
			if !errors.Is(err, tc.wantErr) || len(b) != tc.wantLen || (warning != "") != tc.loose {
				t.Fatalf("Read = %d bytes, warning %q, err %v; want %d bytes, loose %t, err %v", len(b), warning, err, tc.wantLen, tc.loose, tc.wantErr)
			}
		})
	}
}
