package credfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Caps on what Read returns. A secret, a token or a PEM key is at most a
// few kilobytes; a certificate chain a few more.
const (
	// MaxSecretBytes caps an HMAC secret or a token file: 64 KiB.
	MaxSecretBytes = 64 << 10
	// MaxPEMBytes caps a PEM key or certificate file: 1 MiB.
	MaxPEMBytes = 1 << 20
)

var (
	// ErrNotRegular is returned for a directory, a FIFO, a socket or a
	// device such as /dev/zero.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is returned for a file above the cap.
	ErrTooLarge = errors.New("file too large")
)

// Read returns the contents of the regular file at path, at most max
// bytes. warning is not empty when the group or others may read the file,
// which a secret's file should not allow; it says what to do. Symbolic
// links are followed, as mounted Kubernetes Secrets need.
func Read(path string, max int64) (data []byte, warning string, err error) {
	// O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer,
	// before the mode can be checked. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// The mode of the file opened, not of the name, so nothing can be
	// swapped in between.
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))
	}
	if fi.Size() > max {
		return nil, "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, fi.Size(), max)
	}
	// The size may have grown since Stat.
	data, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return data, looseWarning(fi.Mode()), nil
}

// PermissionWarning is Read's warning for a file read through another API:
// empty unless the group or others may read it.
func PermissionWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return looseWarning(fi.Mode())
}

func looseWarning(m fs.FileMode) string {
	if perm := m.Perm(); perm&0o044 != 0 {
		return fmt.Sprintf("mode %04o lets the group or others read it; chmod 600 it (on a Kubernetes Secret volume, defaultMode: 0400)", perm)
	}
	return ""
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}
