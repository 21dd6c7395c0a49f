package main

import (
	"fmt"
	"strconv"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

// hasKey reports whether c can verify any token.
func hasKey(c auth.Config) bool { return len(c.Secrets) > 0 || len(c.PublicKeys) > 0 }

// authSettings returns the effective scrape-token settings as NAME=value
// lines, one per variable auth.ConfigFromEnv reads. A secret shows only
// whether it is set and its length; the files are the raw values lookup
// gives, as the loader read them.
func authSettings(c auth.Config, lookup env.Lookup) []string {
	lines := []string{jwtkeys.EnvAlgorithm + "=" + c.Algorithm}
	for i, name := range []string{jwtkeys.EnvSecret, jwtkeys.EnvSecretPrevious} {
		v := "(unset)"
		if i < len(c.Secrets) {
			v = fmt.Sprintf("(set, %d bytes, hidden)", len(c.Secrets[i]))
		}
		lines = append(lines, name+"="+v)
	}
	maxAge := "off"
	if c.MaxTokenAge > 0 {
		maxAge = c.MaxTokenAge.String()
	}
	return append(lines,
		jwtkeys.EnvSecretFile+"="+env.String(lookup, jwtkeys.EnvSecretFile, ""),
		jwtkeys.EnvPublicKeyPath+"="+env.String(lookup, jwtkeys.EnvPublicKeyPath, ""),
		jwtkeys.EnvPublicKeyPrevious+"="+env.String(lookup, jwtkeys.EnvPublicKeyPrevious, ""),
		jwtkeys.EnvAudience+"="+c.Audience,
		jwtkeys.EnvIssuer+"="+c.Issuer,
		jwtkeys.EnvRequiredScope+"="+c.RequiredScope,
		jwtkeys.EnvLeeway+"="+c.Leeway.String(),
		jwtkeys.EnvMaxTokenAge+"="+maxAge,
		jwtkeys.EnvAllowWeakSecret+"="+strconv.FormatBool(c.AllowWeakSecret),
	)
}

// authWarnings lists scrape-token settings that work but weaken security:
// a secret file that the group or others may read, and secrets shorter
// than RFC 7518 allows, accepted because JWT_ALLOW_WEAK_SECRET is set.
func authWarnings(c auth.Config, lookup env.Lookup) []string {
	var w []string
	if path := env.String(lookup, jwtkeys.EnvSecretFile, ""); path != "" && len(c.Secrets) > 0 {
		if loose := credfile.PermissionWarning(path); loose != "" {
			w = append(w, jwtkeys.EnvSecretFile+"="+path+": "+loose)
		}
	}
	if !jwtkeys.IsHMAC(c.Algorithm) {
		return w
	}
	min := jwtkeys.MinSecretBytes(c.Algorithm)
	for i, s := range c.Secrets {
		if len(s) < min {
			name := jwtkeys.EnvSecret
			if i > 0 {
				name = jwtkeys.EnvSecretPrevious
			}
			w = append(w, fmt.Sprintf("%s is %d bytes; %s wants at least %d (e.g. openssl rand -hex %d); accepted because %s=true", name, len(s), c.Algorithm, min, min, jwtkeys.EnvAllowWeakSecret))
		}
	}
	return w
}
