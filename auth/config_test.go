package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

func TestConfigFromEnv(t *testing.T) {
	rsaPub := writeFile(t, "rsa.pem", publicPEM(t, keys()["rsa"]))
	twoEC := writeFile(t, "ec.pem", publicPEM(t, keys()["p256"], keys()["p256b"]))
	ecPub := writeFile(t, "ec1.pem", publicPEM(t, keys()["p256b"]))
	private := writeFile(t, "private.pem", privatePEM(t, keys()["rsa"]))
	junk := writeFile(t, "junk.pem", []byte("not a key"))
	secretFile := writeFile(t, "hmac.key", append(append([]byte(nil), secret...), '\n'))
	shortFile := writeFile(t, "short", []byte("short\r\n"))

	tests := []struct {
		name       string
		vars       map[string]string
		wantErr    []string // substrings, one per expected error line
		secrets    int
		publicKeys int
	}{
		{"nothing set", nil, nil, 0, 0},
		{"secret", map[string]string{"JWT_SECRET_KEY": string(secret)}, nil, 1, 0},
		{"secret and previous", map[string]string{"JWT_SECRET_KEY": string(secret), "JWT_SECRET_KEY_PREVIOUS": string(secret[1:])}, nil, 2, 0},
		{"lower-case algorithm", map[string]string{"JWT_ALGORITHM": "hs512", "JWT_SECRET_KEY": string(secret)}, nil, 1, 0},
		{"weak secrets allowed", map[string]string{"JWT_SECRET_KEY": "a", "JWT_SECRET_KEY_PREVIOUS": "b", "JWT_ALLOW_WEAK_SECRET": "true"}, nil, 2, 0},
		{"short secret", map[string]string{"JWT_SECRET_KEY": "hunter2"}, []string{"invalid JWT_SECRET_KEY=(hidden): 7 bytes; HS256 needs at least 32 (RFC 7518 §3.2)"}, 1, 0},
		{"short previous secret", map[string]string{"JWT_ALGORITHM": "HS384", "JWT_SECRET_KEY": string(secret), "JWT_SECRET_KEY_PREVIOUS": string(secret[:47])},
			[]string{"invalid JWT_SECRET_KEY_PREVIOUS=(hidden): 47 bytes; HS384 needs at least 48"}, 2, 0},
		{"secret file and secret", map[string]string{"JWT_SECRET_KEY": string(secret), "JWT_SECRET_KEY_FILE": secretFile}, []string{"invalid JWT_SECRET_KEY_FILE=\"" + secretFile + "\": JWT_SECRET_KEY is set too"}, 1, 0},
		{"secret file", map[string]string{"JWT_SECRET_KEY_FILE": secretFile}, nil, 1, 0},
		{"short secret file", map[string]string{"JWT_SECRET_KEY_FILE": shortFile}, []string{"invalid JWT_SECRET_KEY_FILE=\"" + shortFile + "\": 5 bytes; HS256 needs at least 32"}, 1, 0},
		{"missing secret file", map[string]string{"JWT_SECRET_KEY_FILE": "/nonexistent/hmac.key"}, []string{`invalid JWT_SECRET_KEY_FILE="/nonexistent/hmac.key": cannot read the secret file`}, 0, 0},
		{"max token age", map[string]string{"JWT_SECRET_KEY": string(secret), "JWT_MAX_TOKEN_AGE": "720h"}, nil, 1, 0},
		{"bad max token age", map[string]string{"JWT_MAX_TOKEN_AGE": "30d"}, []string{`invalid JWT_MAX_TOKEN_AGE="30d": want a positive duration`}, 0, 0},
		{"RS256 key", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": rsaPub}, nil, 0, 1},
		{"two keys in one file plus a previous file", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY_PATH": twoEC, "JWT_PUBLIC_KEY_PATH_PREVIOUS": ecPub}, nil, 0, 3},

		{"unknown algorithm", map[string]string{"JWT_ALGORITHM": "PS256"}, []string{`invalid JWT_ALGORITHM="PS256": want one of HS256`}, 0, 0},
		{"public key with HS", map[string]string{"JWT_PUBLIC_KEY_PATH": rsaPub}, []string{`invalid JWT_PUBLIC_KEY_PATH="` + rsaPub + `": JWT_ALGORITHM=HS256 signs with JWT_SECRET_KEY`}, 0, 0},
		{"secret with RS", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_SECRET_KEY": "s3cr3t-value", "JWT_PUBLIC_KEY_PATH": rsaPub}, []string{`invalid JWT_SECRET_KEY=(hidden): JWT_ALGORITHM=RS256 verifies with JWT_PUBLIC_KEY_PATH`}, 0, 1},
		{"RSA key for ES256", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY_PATH": rsaPub}, []string{`invalid JWT_PUBLIC_KEY_PATH="` + rsaPub + `": unusable key: an RSA key cannot verify ES256`}, 0, 0},
		{"P-256 key for ES384", map[string]string{"JWT_ALGORITHM": "ES384", "JWT_PUBLIC_KEY_PATH": ecPub}, []string{"ES384 needs a P-384 key, not P-256"}, 0, 0},
		{"private key file", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": private}, []string{"found a PRIVATE KEY; the verifier needs only the public key"}, 0, 0},
		{"not PEM", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY_PATH": junk}, []string{"no PEM public key or certificate found"}, 0, 0},
		{"missing file", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": "/nonexistent/key.pem"}, []string{`invalid JWT_PUBLIC_KEY_PATH="/nonexistent/key.pem": cannot read the key file`}, 0, 0},
		{"previous without current", map[string]string{"JWT_SECRET_KEY_PREVIOUS": "old-secret"}, []string{"invalid JWT_SECRET_KEY_PREVIOUS=(hidden): is set but JWT_SECRET_KEY is not"}, 0, 0},
		{"previous path without current", map[string]string{"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH_PREVIOUS": rsaPub}, []string{"invalid JWT_PUBLIC_KEY_PATH_PREVIOUS"}, 0, 1},
		{"bad leeway", map[string]string{"JWT_LEEWAY": "1h"}, []string{`invalid JWT_LEEWAY="1h": want a duration from 0s to 5m0s`}, 0, 0},
		{"scope with a blank", map[string]string{"METRICS_REQUIRED_SCOPE": "metrics:read metrics:write"}, []string{`invalid METRICS_REQUIRED_SCOPE="metrics:read metrics:write"`}, 0, 0},
		{"every error at once", map[string]string{"JWT_ALGORITHM": "X", "JWT_LEEWAY": "-1s"}, []string{"JWT_ALGORITHM", "JWT_LEEWAY"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := auth.ConfigFromEnv(env.Map(tt.vars))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("ConfigFromEnv: %v", err)
				}
			} else {
				if !errors.Is(err, auth.ErrConfig) {
					t.Fatalf("error %v does not match auth.ErrConfig", err)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.wantErr) {
					t.Fatalf("%d error lines, want %d:\n%v", len(lines), len(tt.wantErr), err)
				}
				for i, w := range tt.wantErr {
					if !strings.Contains(lines[i], w) {
						t.Errorf("error line %q\nwant it to contain %q", lines[i], w)
					}
				}
				for _, v := range tt.vars {
					if strings.Contains(v, "secret") && strings.Contains(err.Error(), v) {
						t.Errorf("error reveals a secret: %v", err)
					}
				}
			}
			if len(c.Secrets) != tt.secrets || len(c.PublicKeys) != tt.publicKeys {
				t.Errorf("%d secrets and %d public keys, want %d and %d", len(c.Secrets), len(c.PublicKeys), tt.secrets, tt.publicKeys)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no key", auth.Config{Algorithm: "HS256"}, "HS256 needs a secret"},
		{"public key for HS", auth.Config{Algorithm: "HS256", Secrets: [][]byte{secret}, PublicKeys: keyConfig("RS256", keys()["rsa"]).PublicKeys}, "uses a secret, not a public key"},
		{"secret for RS", auth.Config{Algorithm: "RS256", Secrets: [][]byte{secret}}, "uses a public key, not a secret"},
		{"no public key", auth.Config{Algorithm: "EdDSA"}, "EdDSA needs a public key"},
		{"empty secret", auth.Config{Algorithm: "HS256", Secrets: [][]byte{{}}}, "empty secret"},
		{"unknown algorithm", auth.Config{Algorithm: "none", Secrets: [][]byte{secret}}, `algorithm "none"`},
		{"long leeway", auth.Config{Algorithm: "HS256", Secrets: [][]byte{secret}, Leeway: time.Hour}, "leeway 1h0m0s"},
		{"short secret", auth.Config{Algorithm: "HS384", Secrets: [][]byte{secret[:47]}}, "a 47-byte secret for HS384: want at least 48 bytes"},
		{"negative max age", auth.Config{Algorithm: "HS256", Secrets: [][]byte{secret}, MaxTokenAge: -time.Second}, "max token age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.NewVerifier(tt.cfg)
			if !errors.Is(err, auth.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewVerifier error = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}
