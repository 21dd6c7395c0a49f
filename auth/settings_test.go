package auth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/auth"
)

// TestSettingsHideSecrets checks that every variable ConfigFromEnv reads is
// printed, that secrets show only their length, and that the file a secret
// came from is shown.
func TestSettingsHideSecrets(t *testing.T) {
	secret := strings.Repeat("s3cret-", 6)
	file := writeFile(t, "hmac.key", []byte(secret+"\n"))
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"secret", map[string]string{auth.EnvSecret: secret, auth.EnvSecretPrevious: secret + "x", auth.EnvAudience: "aud"},
			[]string{"JWT_SECRET_KEY=(set, 42 bytes, hidden)", "JWT_SECRET_KEY_PREVIOUS=(set, 43 bytes, hidden)", "JWT_SECRET_KEY_FILE=", "JWT_AUDIENCE=aud", "JWT_MAX_TOKEN_AGE=off"}},
		{"secret file", map[string]string{auth.EnvSecretFile: file, auth.EnvMaxTokenAge: "24h"},
			[]string{"JWT_SECRET_KEY=(set, 42 bytes, hidden)", "JWT_SECRET_KEY_PREVIOUS=(unset)", "JWT_SECRET_KEY_FILE=" + file, "JWT_MAX_TOKEN_AGE=24h0m0s"}},
		{"nothing", nil, []string{"JWT_ALGORITHM=HS256", "JWT_SECRET_KEY=(unset)", "JWT_PUBLIC_KEY_PATH="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var read []string
			c, err := auth.ConfigFromEnv(func(k string) (string, bool) { read = append(read, k); v, ok := tc.vars[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			got := c.Settings()
			all := strings.Join(got, "\n")
			if strings.Contains(all, "s3cret") {
				t.Errorf("Settings() shows a secret: %q", got)
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("Settings() = %q\nlacks %q", got, w)
				}
			}
			for _, name := range read {
				if !strings.Contains(all, name+"=") {
					t.Errorf("ConfigFromEnv reads %s but Settings does not print it", name)
				}
			}
		})
	}
}

func TestReadSecretFileErrorsMatchErrConfig(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, dir + "/missing", writeFile(t, "empty.key", []byte("\n"))} {
		if _, err := auth.ReadSecretFile(path); !errors.Is(err, auth.ErrConfig) {
			t.Errorf("ReadSecretFile(%s) = %v, want an error matching ErrConfig", path, err)
		}
	}
	if s, err := auth.ReadSecretFile(writeFile(t, "ok.key", []byte("k3y\n"))); err != nil || s != "k3y" {
		t.Errorf("ReadSecretFile = %q, %v", s, err)
	}
}
