package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

// now is the fixed instant every table test runs at.
var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// secret is long enough for HS512 (RFC 7518 §3.2: at least the hash size).
var secret = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

// keys are generated once: RSA generation takes long enough to matter.
var keys = sync.OnceValue(func() map[string]crypto.Signer {
	m := map[string]crypto.Signer{}
	for _, name := range []string{"rsa", "rsa2"} {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		m[name] = k
	}
	for name, c := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p256b": elliptic.P256(), "p384": elliptic.P384()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		m[name] = k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	m["ed25519"] = ed
	return m
})

// keyFor returns the test key that signs alg.
func keyFor(alg string) crypto.Signer {
	switch {
	case strings.HasPrefix(alg, "RS"):
		return keys()["rsa"]
	case alg == "ES256":
		return keys()["p256"]
	case alg == "ES384":
		return keys()["p384"]
	case alg == "EdDSA":
		return keys()["ed25519"]
	}
	return nil
}

func publicPEM(t testing.TB, keys ...crypto.Signer) []byte {
	t.Helper()
	var out []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out
}

func privatePEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mint signs a token for the tests, failing the test on error.
func mint(t testing.TB, o auth.MintOptions) string {
	t.Helper()
	if o.Username == "" {
		o.Username = "prometheus@monitoring"
	}
	if o.Now == nil {
		o.Now = clock
	}
	if o.Secret == nil && o.PrivateKey == nil {
		if jwtkeys.IsHMAC(o.Algorithm) || o.Algorithm == "" {
			o.Secret = secret
		} else {
			o.PrivateKey = keyFor(o.Algorithm)
		}
	}
	tok, err := auth.Mint(o)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// raw builds a token from literal parts, for shapes Mint refuses to make.
func raw(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

// tamper replaces the token's payload with claims, keeping header and
// signature, as an attacker editing a token would.
func tamper(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func hmacConfig(algo string, secrets ...[]byte) auth.Config {
	return auth.Config{Algorithm: algo, Secrets: secrets, Leeway: 30 * time.Second}
}

func keyConfig(algo string, keys ...crypto.Signer) auth.Config {
	c := auth.Config{Algorithm: algo, Leeway: 30 * time.Second}
	for _, k := range keys {
		c.PublicKeys = append(c.PublicKeys, k.Public())
	}
	return c
}

func newVerifier(t testing.TB, c auth.Config, opts ...auth.Option) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(c, append([]auth.Option{auth.WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}
