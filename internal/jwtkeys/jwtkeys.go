// Package jwtkeys is what package auth and the binary's token tool share:
// the names of the JWT_* variables, the accepted algorithms and the reading
// of key material.
package jwtkeys

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/metricsbridge/metricsbridge/internal/credfile"
)

// Environment variables read by auth.ConfigFromEnv and the token tool.
const (
	EnvSecret            = "JWT_SECRET_KEY"
	EnvSecretFile        = "JWT_SECRET_KEY_FILE"
	EnvSecretPrevious    = "JWT_SECRET_KEY_PREVIOUS"
	EnvAlgorithm         = "JWT_ALGORITHM"
	EnvPublicKeyPath     = "JWT_PUBLIC_KEY_PATH"
	EnvPublicKeyPrevious = "JWT_PUBLIC_KEY_PATH_PREVIOUS"
	EnvAudience          = "JWT_AUDIENCE"
	EnvIssuer            = "JWT_ISSUER"
	EnvLeeway            = "JWT_LEEWAY"
	EnvRequiredScope     = "METRICS_REQUIRED_SCOPE"
	EnvMaxTokenAge       = "JWT_MAX_TOKEN_AGE"
	EnvAllowWeakSecret   = "JWT_ALLOW_WEAK_SECRET"
)

// DefaultAlgorithm is the algorithm the Python gateway's token tool uses.
const DefaultAlgorithm = "HS256"

// algorithms lists every accepted value of JWT_ALGORITHM.
var algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"}

// Algorithms returns every accepted value of JWT_ALGORITHM, a fresh slice.
func Algorithms() []string { return slices.Clone(algorithms) }

// AlgorithmList is Algorithms as a message lists them.
func AlgorithmList() string { return strings.Join(algorithms, ", ") }

// Canonical accepts "hs256" and "eddsa" as operators type them.
func Canonical(s string) (string, bool) {
	for _, a := range algorithms {
		if strings.EqualFold(a, s) {
			return a, true
		}
	}
	return s, false
}

// IsHMAC reports whether alg uses a shared secret rather than a key pair.
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// MinSecretBytes returns the shortest HMAC secret alg accepts: RFC 7518
// §3.2 says the key MUST be at least as long as the hash output.
func MinSecretBytes(alg string) int {
	return map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[alg]
}

// ReadSecretFile reads an HMAC secret from a file, such as a mounted
// Kubernetes Secret. One trailing line break is dropped, since echo and
// most editors add one; any other byte is part of the key. Only a regular
// file of at most 64 KiB is read: a FIFO, a device such as /dev/zero or a
// directory is refused at once rather than blocking or filling memory.
// warning is not empty when the group or others may read the file.
func ReadSecretFile(path string) (secret, warning string, err error) {
	b, warning, err := credfile.Read(path, credfile.MaxSecretBytes)
	if err != nil {
		return "", "", fmt.Errorf("cannot read the secret file: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.TrimSpace(s) == "" {
		return "", "", errors.New("the secret file is empty")
	}
	return s, warning, nil
}
