//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileFiles makes the files a review named: a FIFO nobody writes to,
// an endless device, a directory, a file far above the cap (sparse, so
// it costs no disk) and a world-readable secret.
func hostileFiles(t *testing.T) (fifo, dir, huge, loose string) {
	t.Helper()
	dir = t.TempDir()
	fifo = filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge = filepath.Join(dir, "huge")
	f, err := os.OpenFile(huge, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	loose = filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte(testSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	return fifo, dir, huge, loose
}

// cliWithin is cli that fails the test when the command does not return
// in time: a FIFO used to block the start for ever.
func cliWithin(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := cli(t, vars, "", args...)
		done <- result{code, out, errOut}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(10 * time.Second):
		t.Fatalf("%v with %v blocked", args, vars)
		return 0, "", ""
	}
}

// Every file a credential is read from is a regular file below a cap:
// otherwise exit 2 at once, naming the variable or flag and the path.
func TestCredentialFilesRefused(t *testing.T) {
	fifo, dir, huge, _ := hostileFiles(t)
	certDir := t.TempDir()
	writeCert(t, certDir, 1)
	cert := filepath.Join(certDir, "tls.crt")
	for _, bad := range []struct{ path, why string }{
		{fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "not a regular file (a device)"},
		{dir, "not a regular file (a directory)"},
		{huge, "file too large: 209715200 bytes, at most"},
	} {
		for _, tc := range []struct {
			name string
			vars map[string]string
			args []string
			want string
		}{
			{"check JWT_SECRET_KEY_FILE", map[string]string{"JWT_SECRET_KEY_FILE": bad.path}, []string{"check"},
				`invalid JWT_SECRET_KEY_FILE="` + bad.path + `": cannot read the secret file: ` + bad.why},
			{"check JWT_PUBLIC_KEY_PATH", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY_PATH": bad.path}, []string{"check"},
				`invalid JWT_PUBLIC_KEY_PATH="` + bad.path + `": cannot read the key file: ` + bad.why},
			{"check JWT_PUBLIC_KEY_PATH_PREVIOUS", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY_PATH": bad.path, "JWT_PUBLIC_KEY_PATH_PREVIOUS": bad.path}, []string{"check"},
				`invalid JWT_PUBLIC_KEY_PATH_PREVIOUS="` + bad.path + `": cannot read the key file: ` + bad.why},
			{"check TLS_KEY_FILE", map[string]string{"TLS_CERT_FILE": cert, "TLS_KEY_FILE": bad.path}, []string{"check"},
				`key file ` + bad.path + `: ` + bad.why},
			{"serve JWT_SECRET_KEY_FILE", map[string]string{"JWT_SECRET_KEY_FILE": bad.path, "PORT": "0"}, []string{"serve"},
				`invalid JWT_SECRET_KEY_FILE="` + bad.path + `"`},
			{"token create --secret-file", nil, []string{"token", "create", "--username", "u", "--secret-file", bad.path},
				`--secret-file ` + bad.path + `: cannot read the secret file: ` + bad.why},
			{"token create JWT_SECRET_KEY_FILE", map[string]string{"JWT_SECRET_KEY_FILE": bad.path}, []string{"token", "create", "--username", "u"},
				`invalid JWT_SECRET_KEY_FILE="` + bad.path + `": cannot read the secret file: ` + bad.why},
			{"token create --private-key", nil, []string{"token", "create", "--username", "u", "--private-key", bad.path},
				`--private-key ` + bad.path + `: ` + bad.why},
			{"token verify --token-file", map[string]string{"JWT_SECRET_KEY": testSecret}, []string{"token", "verify", "--token-file", bad.path},
				`--token-file ` + bad.path + `: ` + bad.why},
			{"token verify --secret-file", nil, []string{"token", "verify", "--token", "x", "--secret-file", bad.path},
				`invalid JWT_SECRET_KEY_FILE="` + bad.path + `": cannot read the secret file: ` + bad.why},
		} {
			t.Run(tc.name+" "+filepath.Base(bad.path), func(t *testing.T) {
				if bad.path == huge && strings.Contains(tc.name, "token-file") {
					// The token's cap is the secret's: 64 KiB.
					tc.want = `--token-file ` + huge + `: file too large`
				}
				code, _, errOut := cliWithin(t, tc.vars, tc.args...)
				if code != exitConfig || !strings.Contains(errOut, tc.want) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, tc.want)
				}
			})
		}
	}
}

// A secret file the group or others may read works, with one warning that
// says what to do; a private one gets none.
func TestLooseSecretFileWarns(t *testing.T) {
	_, _, _, loose := hostileFiles(t)
	const want = "mode 0644 lets the group or others read it; chmod 600 it"

	code, _, errOut := cliWithin(t, map[string]string{"JWT_SECRET_KEY_FILE": loose}, "check")
	if code != 0 || strings.Count(errOut, want) != 1 || !strings.Contains(errOut, "warning: JWT_SECRET_KEY_FILE="+loose+": ") {
		t.Errorf("check: exit %d, stderr:\n%s\nwant one warning %q", code, errOut, want)
	}
	code, _, errOut = cliWithin(t, nil, "token", "create", "--username", "u", "--secret-file", loose)
	if code != 0 || strings.Count(errOut, want) != 1 {
		t.Errorf("token create: exit %d, stderr:\n%s", code, errOut)
	}

	b := startBridge(t, map[string]string{"JWT_SECRET_KEY_FILE": loose, "ENABLE_METRICS": "true"})
	b.stop(t)
	if log := b.stderr.String(); strings.Count(log, want) != 1 || !strings.Contains(log, "level=WARN") {
		t.Errorf("serve logged the warning %d times, want once:\n%s", strings.Count(log, want), log)
	}

	if err := os.Chmod(loose, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cliWithin(t, map[string]string{"JWT_SECRET_KEY_FILE": loose}, "check"); code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("mode 0600: exit %d, stderr:\n%s", code, errOut)
	}
}
