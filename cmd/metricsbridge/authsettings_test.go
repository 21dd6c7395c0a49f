package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

// authSettings prints every variable auth.ConfigFromEnv reads, a secret
// only as its length, and the file a secret came from.
func TestAuthSettingsHideSecrets(t *testing.T) {
	secret := strings.Repeat("s3cret-", 6)
	file := filepath.Join(t.TempDir(), "hmac.key")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"secret", map[string]string{"JWT_SECRET_KEY": secret, "JWT_SECRET_KEY_PREVIOUS": secret + "x", "JWT_AUDIENCE": "aud"},
			[]string{"JWT_SECRET_KEY=(set, 42 bytes, hidden)", "JWT_SECRET_KEY_PREVIOUS=(set, 43 bytes, hidden)", "JWT_SECRET_KEY_FILE=", "JWT_AUDIENCE=aud", "JWT_MAX_TOKEN_AGE=off"}},
		{"secret file", map[string]string{"JWT_SECRET_KEY_FILE": file, "JWT_MAX_TOKEN_AGE": "24h"},
			[]string{"JWT_SECRET_KEY=(set, 42 bytes, hidden)", "JWT_SECRET_KEY_PREVIOUS=(unset)", "JWT_SECRET_KEY_FILE=" + file, "JWT_MAX_TOKEN_AGE=24h0m0s"}},
		{"nothing", nil, []string{"JWT_ALGORITHM=HS256", "JWT_SECRET_KEY=(unset)", "JWT_PUBLIC_KEY_PATH="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := map[string]bool{}
			lookup := recordLookups(env.Map(tc.vars), read)
			c, err := auth.ConfigFromEnv(lookup)
			if err != nil {
				t.Fatal(err)
			}
			got := authSettings(c, env.Map(tc.vars))
			all := strings.Join(got, "\n")
			if strings.Contains(all, "s3cret") {
				t.Errorf("authSettings shows a secret: %q", got)
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("authSettings = %q\nlacks %q", got, w)
				}
			}
			for name := range read {
				if !strings.Contains(all, name+"=") {
					t.Errorf("auth.ConfigFromEnv reads %s but authSettings does not print it", name)
				}
			}
		})
	}
}

// A secret shorter than RFC 7518 allows works with JWT_ALLOW_WEAK_SECRET
// and is warned about, naming the variable and the length wanted.
func TestAuthWarningsWeakSecret(t *testing.T) {
	long := []byte(strings.Repeat("k", 64))
	for _, tc := range []struct {
		name    string
		cfg     auth.Config
		want    []string
		wantNum int
	}{
		{"short current secret", auth.Config{Algorithm: "HS256", Secrets: [][]byte{[]byte("short"), long}},
			[]string{"JWT_SECRET_KEY is 5 bytes; HS256 wants at least 32"}, 1},
		{"short previous secret", auth.Config{Algorithm: "HS512", Secrets: [][]byte{long, long[:63]}},
			[]string{"JWT_SECRET_KEY_PREVIOUS is 63 bytes; HS512 wants at least 64", "JWT_ALLOW_WEAK_SECRET=true"}, 1},
		{"long enough", auth.Config{Algorithm: "HS512", Secrets: [][]byte{long}}, nil, 0},
		{"public key algorithm", auth.Config{Algorithm: "EdDSA"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := authWarnings(tc.cfg, env.Map(nil))
			if len(w) != tc.wantNum {
				t.Fatalf("authWarnings = %q, want %d", w, tc.wantNum)
			}
			for _, want := range tc.want {
				if !strings.Contains(w[0], want) {
					t.Errorf("authWarnings = %q, lacks %q", w, want)
				}
			}
		})
	}
}
