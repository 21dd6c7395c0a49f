package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/testenv"
)

// interopModules is where scripts/install-deps.sh installs the npm packages
// of testdata/interop/package-lock.json: the project's cache folder,
// METRICSBRIDGE_CACHE or ~/.cache/metricsbridge.
func interopModules() string {
	if d := os.Getenv("METRICSBRIDGE_CACHE"); d != "" {
		return filepath.Join(d, "npm", "node_modules")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(".cache", "metricsbridge", "npm", "node_modules")
	}
	return filepath.Join(d, "metricsbridge", "npm", "node_modules")
}

// jsLib runs testdata/interop/interop.mjs with the machine's node.
type jsLib struct {
	name    string
	node    string
	modules string
}

func newJSLib(t *testing.T, name string) jsLib {
	t.Helper()
	node := testenv.Program(t, "node")
	modules, err := filepath.Abs(interopModules())
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(modules, name, "package.json"))
	testenv.Need(t, "npm package "+name, err)
	return jsLib{name: name, node: node, modules: modules}
}

// run returns the script's stdout, and whether it exited 0.
func (j jsLib) run(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(j.node, append([]string{"testdata/interop/interop.mjs", args[0], j.name}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "INTEROP_NODE_MODULES="+j.modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if _, exited := err.(*exec.ExitError); !exited {
			t.Fatalf("node: %v", err)
		}
		t.Logf("%s %s: %s", j.name, args[0], strings.TrimSpace(stderr.String()))
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// keyMaterial is one algorithm's keys as the three tools want them: the
// signing key file, the verification key file, and our env settings.
type keyMaterial struct {
	signFile, verifyFile string
	vars                 map[string]string
	createArgs           []string
}

func newKeyMaterial(t *testing.T, alg string) keyMaterial {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if alg == "HS256" {
		secret := make([]byte, 32)
		rand.Read(secret)
		s := base64.RawURLEncoding.EncodeToString(secret)
		f := write("secret", []byte(s))
		return keyMaterial{f, f, map[string]string{"JWT_SECRET_KEY_FILE": f}, []string{"--secret-file", f}}
	}
	var k crypto.Signer
	var err error
	switch alg {
	case "RS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	priv := write("private.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	der, _ = x509.MarshalPKIXPublicKey(k.Public())
	pub := write("public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return keyMaterial{priv, pub, map[string]string{"JWT_ALGORITHM": alg, "JWT_PUBLIC_KEY_PATH": pub}, []string{"--private-key", priv, "--algo", alg}}
}

// Tokens cross between metricsbridge and two JWT libraries no one here
// wrote, in both directions, for each algorithm family; a token signed with
// another key or edited in transit is refused on both sides.
func TestJWTInteroperability(t *testing.T) {
	policy := map[string]string{"JWT_AUDIENCE": "metricsbridge", "JWT_ISSUER": "https://issuer.example", "METRICS_REQUIRED_SCOPE": "metrics:read"}
	for _, lib := range []string{"jose", "jsonwebtoken"} {
		js := newJSLib(t, lib)
		for _, alg := range []string{"HS256", "RS256", "ES256"} {
			t.Run(lib+"/"+alg, func(t *testing.T) {
				keys, other := newKeyMaterial(t, alg), newKeyMaterial(t, alg)
				vars := map[string]string{}
				for k, v := range policy {
					vars[k] = v
				}
				for k, v := range keys.vars {
					vars[k] = v
				}
				claims := fmt.Sprintf(`{"sub":"prometheus@monitoring","aud":"metricsbridge","iss":"https://issuer.example","scope":"metrics:read","exp":%d}`,
					time.Now().Add(10*time.Minute).Unix())

				// Theirs, verified here.
				theirs, ok := js.run(t, "sign", alg, keys.signFile, claims)
				if !ok {
					t.Fatal("sign failed")
				}
				code, out, errOut := cli(t, vars, "", "token", "verify", "--token", theirs)
				if code != 0 || !strings.Contains(out, `"sub": "prometheus@monitoring"`) {
					t.Errorf("%s's %s token refused here: exit %d %s%s", lib, alg, code, out, errOut)
				}
				forged, _ := js.run(t, "sign", alg, other.signFile, claims)
				if code, _, errOut := cli(t, vars, "", "token", "verify", "--token", forged); code != exitFail || !strings.Contains(errOut, "signature does not verify") {
					t.Errorf("a %s token signed with another key: exit %d %s", lib, code, errOut)
				}

				// Ours, verified there.
				ours := createToken(t, nil, append([]string{"--username", "prometheus@monitoring", "--exp", "10",
					"--aud", "metricsbridge", "--iss", "https://issuer.example", "--scope", "metrics:read"}, keys.createArgs...)...)
				payload, ok := js.run(t, "verify", alg, keys.verifyFile, ours)
				if !ok {
					t.Fatalf("%s refused our %s token", lib, alg)
				}
				var got map[string]any
				if err := json.Unmarshal([]byte(payload), &got); err != nil || got["sub"] != "prometheus@monitoring" || got["scope"] != "metrics:read" {
					t.Errorf("%s read our claims as %s (%v)", lib, payload, err)
				}
				parts := strings.Split(ours, ".")
				parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","aud":"metricsbridge"}`))
				if _, ok := js.run(t, "verify", alg, keys.verifyFile, strings.Join(parts, ".")); ok {
					t.Errorf("%s accepted our %s token with an edited payload", lib, alg)
				}
				if _, ok := js.run(t, "verify", alg, other.verifyFile, ours); ok {
					t.Errorf("%s accepted our %s token with another key", lib, alg)
				}
			})
		}
	}
}

// pyJWT finds a python3 that imports PyJWT: Debian's python3-jwt, which
// scripts/install-deps.sh installs, under /usr/bin when another python3
// comes first in PATH.
func pyJWT(t *testing.T) string {
	t.Helper()
	err := errors.New("no python3 found")
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if p, lookErr := exec.LookPath(py); lookErr == nil {
			if err = exec.Command(p, "-c", "import jwt").Run(); err == nil {
				return p
			}
			err = fmt.Errorf("%s cannot import jwt: %w", p, err)
		}
	}
	testenv.Need(t, "python3 with PyJWT (Debian package python3-jwt)", err)
	return ""
}

func runPy(t *testing.T, py string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"testdata/interop/interop.py"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if _, exited := err.(*exec.ExitError); !exited {
			t.Fatalf("python3: %v", err)
		}
		t.Logf("PyJWT %s: %s", args[0], strings.TrimSpace(stderr.String()))
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// Tokens cross between metricsbridge and PyJWT, the Python gateway's
// JWT library, in both directions: the gateway's own token shape (HS256;
// username, sub, iat, iss=mcpgateway, aud=mcpgateway-api, jti; no exp)
// passes here with the gateway's audience and issuer, and ours passes in
// PyJWT with audience and issuer verified and sub, iat and jti required.
func TestPyJWTInteroperability(t *testing.T) {
	py := pyJWT(t)
	keys, other := newKeyMaterial(t, "HS256"), newKeyMaterial(t, "HS256")
	vars := map[string]string{"JWT_SECRET_KEY_FILE": keys.signFile, "JWT_AUDIENCE": "mcpgateway-api", "JWT_ISSUER": "mcpgateway"}

	gateway, ok := runPy(t, py, "gateway", keys.signFile)
	if !ok {
		t.Fatal("PyJWT could not sign")
	}
	code, out, errOut := cli(t, vars, gateway, "token", "verify")
	if code != 0 || !strings.Contains(out, `"username": "prometheus@monitoring"`) || strings.Contains(out, `"exp"`) {
		t.Errorf("the gateway's token refused: exit %d %s%s", code, out, errOut)
	}
	for name, v := range map[string]map[string]string{
		"another audience": {"JWT_SECRET_KEY_FILE": keys.signFile, "JWT_AUDIENCE": "metricsbridge", "JWT_ISSUER": "mcpgateway"},
		"another issuer":   {"JWT_SECRET_KEY_FILE": keys.signFile, "JWT_AUDIENCE": "mcpgateway-api", "JWT_ISSUER": "https://issuer.example"},
		"another key":      {"JWT_SECRET_KEY_FILE": other.signFile, "JWT_AUDIENCE": "mcpgateway-api", "JWT_ISSUER": "mcpgateway"},
	} {
		if code, _, _ := cli(t, v, gateway, "token", "verify"); code != exitFail {
			t.Errorf("the gateway's token with %s: exit %d, want 1", name, code)
		}
	}

	ours := createToken(t, vars, "--username", "prometheus@monitoring", "--exp", "0")
	payload, ok := runPy(t, py, "verify", keys.signFile, "mcpgateway-api", "mcpgateway", ours)
	if !ok {
		t.Fatal("PyJWT refused our token")
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(payload), &got); err != nil || got["sub"] != "prometheus@monitoring" || got["aud"] != "mcpgateway-api" || got["iss"] != "mcpgateway" {
		t.Errorf("PyJWT read our claims as %s (%v)", payload, err)
	}
	if _, ok := runPy(t, py, "verify", keys.signFile, "metricsbridge", "mcpgateway", ours); ok {
		t.Error("PyJWT accepted our token for another audience")
	}
	if _, ok := runPy(t, py, "verify", other.signFile, "mcpgateway-api", "mcpgateway", ours); ok {
		t.Error("PyJWT accepted our token with another key")
	}
}
