package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

func TestMintClaims(t *testing.T) {
	tok := mint(t, auth.MintOptions{
		Username: "prometheus@monitoring", ExpMinutes: 90, Audience: "metricsbridge",
		Issuer: "ops", Scope: "metrics:read", Extra: map[string]any{"team": "sre"},
	})
	parts := strings.Split(tok, ".")
	var header, claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(header) != "map[alg:HS256 typ:JWT]" {
		t.Errorf("header = %v", header)
	}
	want := map[string]any{
		"sub": "prometheus@monitoring", "iat": float64(now.Unix()), "exp": float64(now.Unix() + 90*60),
		"aud": "metricsbridge", "iss": "ops", "scope": "metrics:read", "team": "sre",
	}
	jti, _ := claims["jti"].(string)
	delete(claims, "jti")
	if fmt.Sprint(claims) != fmt.Sprint(want) {
		t.Errorf("claims = %v\nwant     %v", claims, want)
	}
	if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) != 16 {
		t.Errorf("jti %q: want 16 random bytes, base64url", jti)
	}
	seen := map[any]bool{}
	for range 100 {
		c := claimsOf(t, mint(t, auth.MintOptions{}))
		if seen[c["jti"]] || c["iat"] == nil || c["sub"] == nil {
			t.Fatalf("claims %v: want sub, iat and a jti not seen before", c)
		}
		seen[c["jti"]] = true
	}
	if _, ok := claimsOf(t, mint(t, auth.MintOptions{}))["exp"]; ok {
		t.Error("ExpMinutes 0 wrote an exp claim")
	}
}

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMintRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    auth.MintOptions
		want string
	}{
		{"no username", auth.MintOptions{Secret: secret}, "a username is required"},
		{"negative exp", auth.MintOptions{Username: "u", Secret: secret, ExpMinutes: -1}, "exp -1 minutes"},
		{"unknown algorithm", auth.MintOptions{Username: "u", Secret: secret, Algorithm: "none"}, `algorithm "none"`},
		{"no secret", auth.MintOptions{Username: "u"}, "HS256 needs a secret"},
		{"short secret", auth.MintOptions{Username: "u", Secret: secret[:31]}, "a 31-byte secret for HS256: want at least 32 bytes"},
		{"reserved jti", auth.MintOptions{Username: "u", Secret: secret, Extra: map[string]any{"jti": "fixed"}}, `extra claim "jti"`},
		{"private key for HS", auth.MintOptions{Username: "u", Secret: secret, PrivateKey: keyFor("RS256")}, "signs with a secret"},
		{"no private key", auth.MintOptions{Username: "u", Algorithm: "ES256"}, "ES256 needs a private key"},
		{"wrong key type", auth.MintOptions{Username: "u", Algorithm: "ES256", PrivateKey: keyFor("RS256")}, "an RSA key cannot verify ES256"},
		{"wrong curve", auth.MintOptions{Username: "u", Algorithm: "ES384", PrivateKey: keyFor("ES256")}, "ES384 needs a P-384 key"},
		{"reserved extra claim", auth.MintOptions{Username: "u", Secret: secret, Extra: map[string]any{"exp": 1}}, `extra claim "exp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Mint(tt.o)
			if !errors.Is(err, auth.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Mint error = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "ES384", "EdDSA"} {
		k, err := jwtkeys.ParsePrivateKeyPEM(privatePEM(t, keyFor(alg)))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		tok := mint(t, auth.MintOptions{Algorithm: alg, PrivateKey: k})
		if _, err := newVerifier(t, keyConfig(alg, keyFor(alg))).Verify("Bearer " + tok); err != nil {
			t.Errorf("%s: round trip: %v", alg, err)
		}
	}
	if _, err := jwtkeys.ParsePrivateKeyPEM(publicPEM(t, keyFor("RS256"))); !errors.Is(err, jwtkeys.ErrKey) {
		t.Errorf("a public key parsed as private: %v", err)
	}
}
