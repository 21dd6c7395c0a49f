package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// cli runs one metricsbridge command and returns its exit code and output.
func cli(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, env.Map(vars))
	return code, stdout.String(), stderr.String()
}

// createToken runs `token create` and returns the token it printed.
func createToken(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, vars, "", append([]string{"token", "create"}, args...)...)
	if code != 0 {
		t.Fatalf("token create %v: exit %d: %s", args, code, errOut)
	}
	if strings.Count(out, "\n") != 1 || strings.Count(out, ".") != 2 {
		t.Fatalf("token create printed %q, want the token alone on one line", out)
	}
	return strings.TrimSpace(out)
}

func TestTokenCreateAndVerify(t *testing.T) {
	vars := map[string]string{"JWT_SECRET_KEY": testSecret}
	tok := createToken(t, vars, "--username", "prometheus@monitoring", "--exp", "0", "--scope", "metrics:read", "--data", `{"team":"sre"}`)

	for name, c := range map[string]struct {
		args  []string
		stdin string
	}{
		"flag":  {[]string{"token", "verify", "--token", tok}, ""},
		"stdin": {[]string{"token", "verify"}, tok + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := cli(t, vars, c.stdin, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var claims map[string]any
			if err := json.Unmarshal([]byte(out), &claims); err != nil {
				t.Fatalf("verify printed %q: %v", out, err)
			}
			if claims["sub"] != "prometheus@monitoring" || claims["scope"] != "metrics:read" || claims["team"] != "sre" {
				t.Errorf("claims %v", claims)
			}
			if _, ok := claims["exp"]; ok {
				t.Errorf("--exp 0 wrote exp: %v", claims)
			}
		})
	}

	t.Run("expiring", func(t *testing.T) {
		tok := createToken(t, vars, "--username", "u", "--exp", "5")
		_, out, _ := cli(t, vars, "", "token", "verify", "--token", tok)
		var claims struct{ Exp, Iat int64 }
		if err := json.Unmarshal([]byte(out), &claims); err != nil || claims.Exp-claims.Iat != 300 {
			t.Errorf("exp-iat = %d (%v), want 300", claims.Exp-claims.Iat, err)
		}
	})

	refusals := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"wrong secret", map[string]string{"JWT_SECRET_KEY": "another-secret-another-secret-!!"}, []string{"--token", tok}, "token is not valid: signature does not verify"},
		{"secret flag wins", vars, []string{"--token", tok, "--secret", "another-secret-another-secret-!!"}, "signature does not verify"},
		{"missing scope", map[string]string{"JWT_SECRET_KEY": testSecret, "METRICS_REQUIRED_SCOPE": "metrics:admin"}, []string{"--token", tok}, "required scope missing: metrics:admin"},
		{"wrong audience", map[string]string{"JWT_SECRET_KEY": testSecret, "JWT_AUDIENCE": "grafana"}, []string{"--token", tok}, "wrong audience"},
		{"garbage", vars, []string{"--token", "not-a-token"}, "malformed token"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := cli(t, r.vars, "", append([]string{"token", "verify"}, r.args...)...)
			if code != exitFail || out != "" || !strings.Contains(errOut, r.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, r.want)
			}
			if strings.Contains(errOut, testSecret) {
				t.Errorf("stderr reveals the secret")
			}
		})
	}
}

func TestTokenAsymmetric(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	priv := filepath.Join(dir, "key.pem")
	os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	der, _ = x509.MarshalPKIXPublicKey(k.Public())
	pub := filepath.Join(dir, "pub.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)

	// The algorithm follows from the key.
	tok := createToken(t, nil, "--username", "u", "--private-key", priv)
	vars := map[string]string{"JWT_ALGORITHM": "ES384", "JWT_PUBLIC_KEY_PATH": pub}
	if code, _, errOut := cli(t, vars, "", "token", "verify", "--token", tok); code != 0 {
		t.Errorf("ES384 token refused: %s", errOut)
	}
	if code, _, errOut := cli(t, nil, "", "token", "verify", "--token", tok, "--algo", "ES384", "--public-key", pub); code != 0 {
		t.Errorf("ES384 token refused with flags: %s", errOut)
	}
	// The same token against an HMAC configuration: algorithm refused.
	code, _, errOut := cli(t, map[string]string{"JWT_SECRET_KEY": testSecret}, "", "token", "verify", "--token", tok)
	if code != exitFail || !strings.Contains(errOut, `signing algorithm not accepted: token uses "ES384", only HS256 is accepted`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestTokenBadArguments(t *testing.T) {
	vars := map[string]string{"JWT_SECRET_KEY": testSecret}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token"}, "usage:"},
		{[]string{"token", "rotate"}, `unknown command "rotate"`},
		{[]string{"token", "create"}, "--username is required"},
		{[]string{"token", "create", "--username", "u", "--exp", "-1"}, `invalid value "-1" for flag -exp: want minutes ≥ 0`},
		{[]string{"token", "create", "--username", "u", "--exp", "soon"}, `invalid value "soon" for flag -exp`},
		{[]string{"token", "create", "--username", "u", "--data", `["x"]`}, `--data "[\"x\"]" is not a JSON object`},
		{[]string{"token", "create", "--username", "u", "--data", `{"sub":"admin"}`}, `extra claim "sub" is set by its own option`},
		{[]string{"token", "create", "--username", "u", "--algo", "none"}, `algorithm "none"`},
		{[]string{"token", "create", "--username", "u", "--private-key", "/nonexistent.pem"}, "no such file"},
		{[]string{"token", "verify", "--token", "x", "--algo", "RS256"}, "JWT_SECRET_KEY=(hidden): JWT_ALGORITHM=RS256 verifies with JWT_PUBLIC_KEY_PATH"},
	} {
		code, out, errOut := cli(t, vars, "", c.args...)
		if code != exitConfig || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if code, _, errOut := cli(t, nil, "", "token", "verify", "--token", "x"); code != exitConfig || !strings.Contains(errOut, "no key") {
		t.Errorf("verify without a key: exit %d: %s", code, errOut)
	}
	// -h lists the flags without printing the secret as a default.
	_, _, errOut := cli(t, vars, "", "token", "create", "-h")
	if !strings.Contains(errOut, "-private-key") || strings.Contains(errOut, testSecret) {
		t.Errorf("token create -h:\n%s", errOut)
	}
}

// A real Prometheus scrapes with a token from `token create` in a
// credentials_file; a second job with a wrong token is refused.
func TestPrometheusScrapesWithToken(t *testing.T) {
	vars := map[string]string{"ENABLE_METRICS": "true", "JWT_SECRET_KEY": testSecret, "METRICS_REQUIRED_SCOPE": "metrics:read"}
	base, stderr := startServe(t, vars)
	if !strings.Contains(stderr.String(), `auth="bearer token (HS256)"`) {
		t.Errorf("start-up line: %s", stderr)
	}
	good := createToken(t, vars, "--username", "prometheus@monitoring", "--exp", "0")
	wrong := createToken(t, map[string]string{"JWT_SECRET_KEY": "another-secret-another-secret-!!"}, "--username", "prometheus@monitoring", "--scope", "metrics:read")
	noScope := createToken(t, vars, "--username", "prometheus@monitoring", "--scope", "metrics:write")

	target := strings.TrimPrefix(base, "http://")
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
	for _, job := range []string{"good", "wrong", "noscope"} {
		fmt.Fprintf(&cfg, `  - job_name: %s
    metrics_path: /metrics/prometheus
    authorization:
      type: Bearer
      credentials_file: {{DIR}}/%s.jwt
    static_configs:
      - targets: [%q]
`, job, job, target)
	}
	prom := promtest.Start(t, cfg.String())
	for job, tok := range map[string]string{"good": good, "wrong": wrong, "noscope": noScope} {
		// As the Python gateway writes it: echo -n, no trailing newline.
		if err := os.WriteFile(filepath.Join(prom.Dir(), job+".jwt"), []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for job, want := range map[string]float64{"good": 1, "wrong": 0, "noscope": 0} {
		prom.WaitFor(t, fmt.Sprintf(`up{job=%q}`, job), 20*time.Second, func(s []promtest.Sample) bool {
			return len(s) == 1 && s[0].Value == want
		})
	}
	// The refusals are counted by reason, and Prometheus reads the counts
	// through the good job.
	for reason, status := range map[string]string{"signature": "401", "scope": "403"} {
		prom.WaitFor(t, fmt.Sprintf(`metricsbridge_auth_failures_total{job="good",reason=%q} > 0`, reason), 20*time.Second,
			func(s []promtest.Sample) bool { return len(s) == 1 })
		prom.WaitFor(t, fmt.Sprintf(`http_requests_total{job="good",handler="/metrics/prometheus",status=%q} > 0`, status), 20*time.Second,
			func(s []promtest.Sample) bool { return len(s) == 1 })
	}
	prom.WaitFor(t, `metricsbridge_auth_failures_total{job="good",reason="expired"}`, 5*time.Second,
		func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 0 })
	if strings.Contains(stderr.String(), good) || strings.Contains(stderr.String(), testSecret) {
		t.Errorf("the log holds a token or the secret:\n%s", stderr)
	}
}

// Secrets and tokens come from files or stdin, so neither has to be on a
// command line; each token carries sub, iat and a random jti.
func TestTokenFromFiles(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "jwt-secret-key")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Made from the file, both by the flag and by JWT_SECRET_KEY_FILE; the
	// trailing line break is not part of the key.
	byFlag := createToken(t, nil, "--username", "prometheus@monitoring", "--secret-file", secretFile)
	byEnv := createToken(t, map[string]string{"JWT_SECRET_KEY_FILE": secretFile, "JWT_AUDIENCE": "metricsbridge", "JWT_ISSUER": "ops"},
		"--username", "prometheus@monitoring")
	tokenFile := filepath.Join(dir, "metrics-token.jwt")
	if err := os.WriteFile(tokenFile, []byte(byFlag+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jtis := map[any]bool{}
	for _, c := range []struct {
		name  string
		vars  map[string]string
		stdin string
		args  []string
	}{
		{"env secret, token file", map[string]string{"JWT_SECRET_KEY": testSecret}, "", []string{"--token-file", tokenFile}},
		{"secret file env, stdin", map[string]string{"JWT_SECRET_KEY_FILE": secretFile}, byFlag + "\n", nil},
		{"secret file flag wins over env secret", map[string]string{"JWT_SECRET_KEY": "another-secret-another-secret-!!"}, byFlag, []string{"--secret-file", secretFile}},
		{"aud and iss from the environment", map[string]string{"JWT_SECRET_KEY_FILE": secretFile, "JWT_AUDIENCE": "metricsbridge", "JWT_ISSUER": "ops"}, byEnv, nil},
	} {
		code, out, errOut := cli(t, c.vars, c.stdin, append([]string{"token", "verify"}, c.args...)...)
		var claims map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &claims) != nil {
			t.Errorf("%s: exit %d %s%s", c.name, code, out, errOut)
			continue
		}
		if claims["sub"] != "prometheus@monitoring" || claims["iat"] == nil || claims["jti"] == nil {
			t.Errorf("%s: claims %v, want sub, iat and jti", c.name, claims)
		}
		jtis[claims["jti"]] = true
	}
	if len(jtis) != 2 {
		t.Errorf("two tokens, %d distinct jti", len(jtis))
	}
	for _, c := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{nil, []string{"create", "--username", "u", "--secret-file", filepath.Join(dir, "missing")}, "--secret-file"},
		{nil, []string{"create", "--username", "u", "--secret", testSecret, "--secret-file", secretFile}, "give one of them"},
		{map[string]string{"JWT_SECRET_KEY": testSecret, "JWT_SECRET_KEY_FILE": secretFile}, []string{"create", "--username", "u"}, "JWT_SECRET_KEY and JWT_SECRET_KEY_FILE are both set"},
		{map[string]string{"JWT_SECRET_KEY": "hunter2"}, []string{"create", "--username", "u"}, "a 7-byte secret for HS256: want at least 32 bytes"},
		{map[string]string{"JWT_SECRET_KEY": testSecret}, []string{"verify", "--token", byFlag, "--token-file", tokenFile}, "give one of them"},
		{map[string]string{"JWT_SECRET_KEY": testSecret}, []string{"verify", "--token-file", filepath.Join(dir, "missing")}, "--token-file"},
		{map[string]string{"JWT_SECRET_KEY": "hunter2"}, []string{"verify", "--token", byFlag}, "invalid JWT_SECRET_KEY=(hidden): 7 bytes; HS256 needs at least 32"},
	} {
		code, out, errOut := cli(t, c.vars, "", append([]string{"token"}, c.args...)...)
		if code != exitConfig || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: exit %d %q %q, want exit 2 and %q", c.vars, c.args, code, out, errOut, c.want)
		}
	}
	// The opt-out mints and verifies with a short secret.
	weak := map[string]string{"JWT_SECRET_KEY": "hunter2", "JWT_ALLOW_WEAK_SECRET": "true"}
	tok := createToken(t, weak, "--username", "u")
	if code, _, errOut := cli(t, weak, tok, "token", "verify"); code != 0 {
		t.Errorf("weak secret with the opt-out: %s", errOut)
	}
}

// JWT_MAX_TOKEN_AGE bounds tokens that have no exp, by their iat.
func TestTokenMaxAge(t *testing.T) {
	vars := map[string]string{"JWT_SECRET_KEY": testSecret, "JWT_MAX_TOKEN_AGE": "1h"}
	if code, _, errOut := cli(t, vars, createToken(t, vars, "--username", "u"), "token", "verify"); code != 0 {
		t.Errorf("a fresh token: %s", errOut)
	}
	old, err := auth.Mint(auth.MintOptions{Username: "u", Secret: []byte(testSecret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, vars, old, "token", "verify"); code != exitFail || !strings.Contains(errOut, "more than JWT_MAX_TOKEN_AGE=1h0m0s") {
		t.Errorf("a two-hour-old token: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, map[string]string{"JWT_SECRET_KEY": testSecret}, old, "token", "verify"); code != 0 {
		t.Errorf("without a maximum age the same token passes: %s", errOut)
	}
}
