package auth

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Environment variables read by ConfigFromEnv.
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

// DefaultAlgorithm is the algorithm the seed's token tool uses.
const DefaultAlgorithm = "HS256"

// DefaultLeeway absorbs clock skew between the token's minter and us.
const DefaultLeeway = 30 * time.Second

// maxLeeway keeps a typo such as "30m" from quietly extending every token.
const maxLeeway = 5 * time.Minute

// maxTokenAge bounds JWT_MAX_TOKEN_AGE at ten years.
const maxTokenAge = 10 * 365 * 24 * time.Hour

// MinSecretBytes returns the shortest HMAC secret alg accepts: RFC 7518
// §3.2 says the key MUST be at least as long as the hash output.
func MinSecretBytes(alg string) int {
	return map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[alg]
}

// ErrConfig is matched, under errors.Is, by every configuration error of
// this package: NewVerifier's, Validate's, ConfigFromEnv's and
// ReadSecretFile's.
var ErrConfig = errors.New("auth: invalid configuration")

// Algorithms lists every accepted value of JWT_ALGORITHM.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"}

// IsHMAC reports whether alg uses a shared secret rather than a key pair.
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// Config is the verification policy. Keys are already parsed and checked
// against Algorithm, so a Config from ConfigFromEnv cannot fail later.
type Config struct {
	// Algorithm is the one algorithm tokens may be signed with.
	Algorithm string
	// Secrets are the HMAC keys for HS*, current first. Empty otherwise.
	Secrets [][]byte
	// PublicKeys are the verification keys for RS*, ES* and EdDSA, current
	// first. Empty for HS*.
	PublicKeys []crypto.PublicKey
	// Audience and Issuer, when set, must appear in the token.
	Audience string
	Issuer   string
	// RequiredScope, when set, must be one of the token's scopes; a valid
	// token without it is refused with 403.
	RequiredScope string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// MaxTokenAge, when positive, refuses tokens issued (iat) longer ago,
	// and tokens without iat: it bounds tokens minted without exp.
	MaxTokenAge time.Duration
	// AllowWeakSecret accepts HMAC secrets shorter than MinSecretBytes.
	AllowWeakSecret bool

	// fileWarnings are about the secret files ConfigFromEnv read.
	fileWarnings []string
	// The files ConfigFromEnv was told to read, for Settings.
	secretFile, keyFile, previousKeyFile string
}

// HasKey reports whether any verification key is configured.
func (c Config) HasKey() bool { return len(c.Secrets) > 0 || len(c.PublicKeys) > 0 }

// Validate checks that the keys fit the algorithm. NewVerifier calls it.
func (c Config) Validate() error {
	if !slices.Contains(Algorithms, c.Algorithm) {
		return fmt.Errorf("%w: algorithm %q: want one of %s", ErrConfig, c.Algorithm, strings.Join(Algorithms, ", "))
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		return fmt.Errorf("%w: leeway %s: want 0 to %s", ErrConfig, c.Leeway, maxLeeway)
	}
	if c.MaxTokenAge < 0 || c.MaxTokenAge > maxTokenAge {
		return fmt.Errorf("%w: max token age %s: want 0 (off) to %s", ErrConfig, c.MaxTokenAge, maxTokenAge)
	}
	if IsHMAC(c.Algorithm) {
		if len(c.PublicKeys) > 0 {
			// Accepting both would let anyone who has the public key sign
			// HMAC tokens with it: the classic key-confusion attack.
			return fmt.Errorf("%w: %s uses a secret, not a public key", ErrConfig, c.Algorithm)
		}
		if len(c.Secrets) == 0 {
			return fmt.Errorf("%w: %s needs a secret: set %s or %s (Config.Secrets)", ErrConfig, c.Algorithm, EnvSecret, EnvSecretFile)
		}
		for _, s := range c.Secrets {
			if len(s) == 0 {
				return fmt.Errorf("%w: empty secret", ErrConfig)
			}
			if min := MinSecretBytes(c.Algorithm); len(s) < min && !c.AllowWeakSecret {
				return fmt.Errorf("%w: a %d-byte secret for %s: want at least %d bytes (RFC 7518 §3.2)", ErrConfig, len(s), c.Algorithm, min)
			}
		}
		return nil
	}
	if len(c.Secrets) > 0 {
		return fmt.Errorf("%w: %s uses a public key, not a secret", ErrConfig, c.Algorithm)
	}
	if len(c.PublicKeys) == 0 {
		return fmt.Errorf("%w: %s needs a public key: set %s (Config.PublicKeys)", ErrConfig, c.Algorithm, EnvPublicKeyPath)
	}
	for _, k := range c.PublicKeys {
		if err := checkPublicKey(c.Algorithm, k); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

// Warnings lists settings that work but weaken security: secrets shorter
// than RFC 7518 allows, accepted because AllowWeakSecret is set, and a
// secret file that the group or others may read.
func (c Config) Warnings() []string {
	w := slices.Clone(c.fileWarnings)
	if IsHMAC(c.Algorithm) {
		min := MinSecretBytes(c.Algorithm)
		for i, s := range c.Secrets {
			if len(s) < min {
				name := EnvSecret
				if i > 0 {
					name = EnvSecretPrevious
				}
				w = append(w, fmt.Sprintf("%s is %d bytes; %s wants at least %d (e.g. openssl rand -hex %d); accepted because %s=true", name, len(s), c.Algorithm, min, min, EnvAllowWeakSecret))
			}
		}
	}
	return w
}

// Settings returns the effective configuration as NAME=value lines, one
// per variable ConfigFromEnv reads, as `metricsbridge check` prints them. A
// secret shows only whether it is set and its length; the files are those
// ConfigFromEnv read, empty for a Config built in code.
func (c Config) Settings() []string {
	lines := []string{EnvAlgorithm + "=" + c.Algorithm}
	for i, name := range []string{EnvSecret, EnvSecretPrevious} {
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
		EnvSecretFile+"="+c.secretFile,
		EnvPublicKeyPath+"="+c.keyFile,
		EnvPublicKeyPrevious+"="+c.previousKeyFile,
		EnvAudience+"="+c.Audience,
		EnvIssuer+"="+c.Issuer,
		EnvRequiredScope+"="+c.RequiredScope,
		EnvLeeway+"="+c.Leeway.String(),
		EnvMaxTokenAge+"="+maxAge,
		EnvAllowWeakSecret+"="+strconv.FormatBool(c.AllowWeakSecret),
	)
}

// ConfigFromEnv reads the JWT_* variables and METRICS_REQUIRED_SCOPE. It
// returns a Config with no keys when none is configured; the caller decides
// whether that is acceptable (it is when authentication is off). Every bad
// value is reported, one line each naming the variable and the value
// (secrets hidden); the error matches ErrConfig.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Config{
		Algorithm:     env.String(lookup, EnvAlgorithm, DefaultAlgorithm),
		Audience:      env.String(lookup, EnvAudience, ""),
		Issuer:        env.String(lookup, EnvIssuer, ""),
		RequiredScope: env.String(lookup, EnvRequiredScope, ""),
		Leeway:        DefaultLeeway,
	}
	var errs []error
	alg, ok := canonicalAlgorithm(c.Algorithm)
	if !ok {
		errs = append(errs, env.Errorf(EnvAlgorithm, c.Algorithm, "want one of %s", strings.Join(Algorithms, ", ")))
	}
	c.Algorithm = alg
	if raw := env.String(lookup, EnvLeeway, ""); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 || d > maxLeeway {
			errs = append(errs, env.Errorf(EnvLeeway, raw, "want a duration from 0s to %s, e.g. 30s", maxLeeway))
		} else {
			c.Leeway = d
		}
	}
	if strings.ContainsAny(c.RequiredScope, " \t") {
		errs = append(errs, env.Errorf(EnvRequiredScope, c.RequiredScope, "want a single scope such as metrics:read"))
	}

	if raw := env.String(lookup, EnvMaxTokenAge, ""); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 || d > maxTokenAge {
			errs = append(errs, env.Errorf(EnvMaxTokenAge, raw, "want a positive duration up to %s, e.g. 720h for 30 days", maxTokenAge))
		} else {
			c.MaxTokenAge = d
		}
	}
	var err error
	c.AllowWeakSecret, err = env.Bool(lookup, EnvAllowWeakSecret, false)
	errs = append(errs, err)

	// Secrets are not trimmed: a trailing space may be part of the key.
	secret, hasSecret := nonEmpty(lookup, EnvSecret)
	secretVar, secretPath := EnvSecret, ""
	if path := env.String(lookup, EnvSecretFile, ""); path != "" {
		c.secretFile = path
		secretVar, secretPath = EnvSecretFile, path
		if hasSecret {
			errs = append(errs, env.Errorf(EnvSecretFile, path, "%s is set too; set one of them", EnvSecret))
		}
		s, warning, err := readSecretFile(path)
		if err != nil {
			errs = append(errs, env.Errorf(EnvSecretFile, path, "%v", err))
		}
		if warning != "" {
			c.fileWarnings = append(c.fileWarnings, EnvSecretFile+"="+path+": "+warning)
		}
		secret, hasSecret = s, err == nil
	}
	previous, hasPrevious := nonEmpty(lookup, EnvSecretPrevious)
	keyPath := env.String(lookup, EnvPublicKeyPath, "")
	prevPath := env.String(lookup, EnvPublicKeyPrevious, "")
	c.keyFile, c.previousKeyFile = keyPath, prevPath
	if hasPrevious && !hasSecret {
		errs = append(errs, &env.Error{Var: EnvSecretPrevious, Value: previous, Secret: true,
			Reason: "is set but " + EnvSecret + " is not; the previous secret only complements the current one"})
	}
	if prevPath != "" && keyPath == "" {
		errs = append(errs, env.Errorf(EnvPublicKeyPrevious, prevPath, "is set but %s is not", EnvPublicKeyPath))
	}

	if ok && IsHMAC(alg) {
		if keyPath != "" {
			errs = append(errs, env.Errorf(EnvPublicKeyPath, keyPath,
				"%s=%s signs with %s; a public key needs RS*, ES* or EdDSA", EnvAlgorithm, alg, EnvSecret))
		}
		if hasSecret {
			c.Secrets = append(c.Secrets, []byte(secret))
			errs = append(errs, c.checkSecretLength(secretVar, secret, secretPath))
		}
		if hasSecret && hasPrevious {
			c.Secrets = append(c.Secrets, []byte(previous))
			errs = append(errs, c.checkSecretLength(EnvSecretPrevious, previous, ""))
		}
	} else if ok {
		if hasSecret {
			errs = append(errs, &env.Error{Var: EnvSecret, Value: secret, Secret: true,
				Reason: fmt.Sprintf("%s=%s verifies with %s, not a secret; unset one of them", EnvAlgorithm, alg, EnvPublicKeyPath)})
		}
		for _, v := range [][2]string{{EnvPublicKeyPath, keyPath}, {EnvPublicKeyPrevious, prevPath}} {
			if v[1] == "" {
				continue
			}
			keys, err := readPublicKeys(alg, v[1])
			if err != nil {
				errs = append(errs, env.Errorf(v[0], v[1], "%v", err))
				continue
			}
			c.PublicKeys = append(c.PublicKeys, keys...)
		}
	}
	return c, env.Join(ErrConfig, errs...)
}

// checkSecretLength refuses a secret shorter than the hash; path, when
// the secret came from a file, is shown instead of the hidden value.
func (c Config) checkSecretLength(name, secret, path string) error {
	min := MinSecretBytes(c.Algorithm)
	if len(secret) >= min || c.AllowWeakSecret {
		return nil
	}
	value, hidden := secret, true
	if path != "" {
		value, hidden = path, false
	}
	return &env.Error{Var: name, Value: value, Secret: hidden, Reason: fmt.Sprintf(
		"%d bytes; %s needs at least %d (RFC 7518 §3.2), e.g. openssl rand -hex %d; %s=true accepts a shorter one",
		len(secret), c.Algorithm, min, min, EnvAllowWeakSecret)}
}

// ReadSecretFile reads an HMAC secret from a file, such as a mounted
// Kubernetes Secret. One trailing line break is dropped, since echo and
// most editors add one; any other byte is part of the key. Only a regular
// file of at most 64 KiB is read: a FIFO, a device such as /dev/zero or a
// directory is refused at once rather than blocking or filling memory. Its
// errors match ErrConfig.
func ReadSecretFile(path string) (string, error) {
	s, _, err := readSecretFile(path)
	if err != nil {
		return "", env.Join(ErrConfig, err)
	}
	return s, nil
}

// readSecretFile is ReadSecretFile that also returns a warning when the
// group or others may read the file.
func readSecretFile(path string) (secret, warning string, err error) {
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

func nonEmpty(lookup env.Lookup, name string) (string, bool) {
	v, ok := lookup(name)
	return v, ok && strings.TrimSpace(v) != ""
}

// canonicalAlgorithm accepts "hs256" and "eddsa" as operators type them.
func canonicalAlgorithm(s string) (string, bool) {
	for _, a := range Algorithms {
		if strings.EqualFold(a, s) {
			return a, true
		}
	}
	return s, false
}

func readPublicKeys(alg, path string) ([]crypto.PublicKey, error) {
	// A public key is no secret: who may read its file does not matter.
	data, _, err := credfile.Read(path, credfile.MaxPEMBytes)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file: %w", err)
	}
	keys, err := ParsePublicKeysPEM(data)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkPublicKey(alg, k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
