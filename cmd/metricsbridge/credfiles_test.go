//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
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

// runBinary runs the built command with vars as its whole environment
// (PATH aside) and kills it when it has not exited within limit, failing
// t: a FIFO used to hang the start until killed.
func runBinary(t *testing.T, vars map[string]string, limit time.Duration, args ...string) (code int, stderr string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, errOut.String()
		case errors.As(err, &exit):
			return exit.ExitCode(), errOut.String()
		}
		t.Fatal(err)
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after %s, killed:\n%s", args, limit, &errOut)
	}
	return 0, ""
}

// Every file a setting names goes through the credential files' rules, the
// OTLP exporter's TLS files and the OpenAPI document included: a FIFO is
// refused at once with exit 2 naming the setting, by the real binary, in
// check and in serve.
func TestSettingFilesFIFORefused(t *testing.T) {
	buildBinary(t) // not part of the time a refusal takes
	fifo, _, _, _ := hostileFiles(t)
	pki := t.TempDir()
	writeCert(t, pki, 1)
	cert, key := filepath.Join(pki, "tls.crt"), filepath.Join(pki, "tls.key")
	otlp := func(name string, extra ...string) map[string]string {
		m := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:1", "AUTH_REQUIRED": "false", "PORT": "0", name: fifo}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		setting string
		vars    map[string]string
		args    []string
	}{
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", otlp("OTEL_EXPORTER_OTLP_CERTIFICATE"), nil},
		{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", otlp("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"), nil},
		{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", otlp("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY", key), nil},
		{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", otlp("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY", key), nil},
		{"OTEL_EXPORTER_OTLP_CLIENT_KEY", otlp("OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert), nil},
		{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", otlp("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert), nil},
		{"--openapi", map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1", "AUTH_REQUIRED": "false", "PORT": "0"}, []string{"--openapi", "file:" + fifo}},
	} {
		for _, command := range []string{"check", "serve"} {
			t.Run(tc.setting+"/"+command, func(t *testing.T) {
				start := time.Now()
				code, errOut := runBinary(t, tc.vars, 10*time.Second, append([]string{command}, tc.args...)...)
				if code != exitConfig || !strings.Contains(errOut, "invalid "+tc.setting+`="`) || !strings.Contains(errOut, "not a regular file (a FIFO)") {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 2 naming %s and the FIFO", code, errOut, tc.setting)
				}
				t.Logf("refused after %s", time.Since(start).Round(time.Millisecond))
			})
		}
	}
}

// The OTLP client key gets the private key's warning when the group or
// others may read it, once; the CA and the client certificate, public,
// get none.
func TestLooseOTLPClientKeyWarns(t *testing.T) {
	pki := t.TempDir()
	writeCert(t, pki, 1)
	cert, key := filepath.Join(pki, "tls.crt"), filepath.Join(pki, "tls.key")
	for path, mode := range map[string]os.FileMode{cert: 0o644, key: 0o640} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:1", "AUTH_REQUIRED": "false",
		"OTEL_EXPORTER_OTLP_CERTIFICATE": cert, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": cert, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": key}
	const want = "mode 0640 lets the group or others read it; chmod 600 it"

	code, errOut := runBinary(t, vars, 10*time.Second, "check")
	if code != exitOK || strings.Count(errOut, "warning: ") != 1 || strings.Count(errOut, want) != 1 ||
		!strings.Contains(errOut, "warning: OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY="+key+": ") {
		t.Errorf("check: exit %d, stderr:\n%s\nwant one warning %q", code, errOut, want)
	}

	b := startBridge(t, vars)
	b.stop(t)
	if log := b.stderr.String(); strings.Count(log, want) != 1 || strings.Count(log, "level=WARN") != 1 {
		t.Errorf("serve logged the warning %d times, want once:\n%s", strings.Count(log, want), log)
	}

	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, errOut := runBinary(t, vars, 10*time.Second, "check"); code != exitOK || strings.Contains(errOut, "warning") {
		t.Errorf("mode 0600: exit %d, stderr:\n%s", code, errOut)
	}
}
