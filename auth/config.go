package auth

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

// The variables ConfigFromEnv reads, listed in the package documentation.
const (
	envSecret            = jwtkeys.EnvSecret
	envSecretFile        = jwtkeys.EnvSecretFile
	envSecretPrevious    = jwtkeys.EnvSecretPrevious
	envAlgorithm         = jwtkeys.EnvAlgorithm
	envPublicKeyPath     = jwtkeys.EnvPublicKeyPath
	envPublicKeyPrevious = jwtkeys.EnvPublicKeyPrevious
	envAudience          = jwtkeys.EnvAudience
	envIssuer            = jwtkeys.EnvIssuer
	envLeeway            = jwtkeys.EnvLeeway
	envRequiredScope     = jwtkeys.EnvRequiredScope
	envMaxTokenAge       = jwtkeys.EnvMaxTokenAge
	envAllowWeakSecret   = jwtkeys.EnvAllowWeakSecret
)

// defaultLeeway absorbs clock skew between the token's minter and us:
// ConfigFromEnv's value when JWT_LEEWAY is unset.
const defaultLeeway = 30 * time.Second

// maxLeeway keeps a typo such as "30m" from quietly extending every token.
const maxLeeway = 5 * time.Minute

// maxTokenAge bounds JWT_MAX_TOKEN_AGE at ten years.
const maxTokenAge = 10 * 365 * 24 * time.Hour

// ErrConfig is matched, under errors.Is, by every configuration error of
// this package: NewVerifier's, ConfigFromEnv's and Mint's for options it
// cannot sign with. It is the module's one configuration sentinel,
// metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

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
	// Leeway is the clock skew allowed on exp, nbf and iat, at most 5
	// minutes; ConfigFromEnv makes it 30 seconds unless JWT_LEEWAY says
	// otherwise.
	Leeway time.Duration
	// MaxTokenAge, when positive, refuses tokens issued (iat) longer ago,
	// and tokens without iat: it bounds tokens minted without exp.
	MaxTokenAge time.Duration
	// AllowWeakSecret accepts HMAC secrets shorter than RFC 7518 §3.2
	// allows: 32 bytes for HS256, 48 for HS384, 64 for HS512.
	AllowWeakSecret bool
}

// validate checks that the keys fit the algorithm.
func (c Config) validate() error {
	if !slices.Contains(jwtkeys.Algorithms(), c.Algorithm) {
		return fmt.Errorf("%w: algorithm %q: want one of %s", ErrConfig, c.Algorithm, jwtkeys.AlgorithmList())
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		return fmt.Errorf("%w: leeway %s: want 0 to %s", ErrConfig, c.Leeway, maxLeeway)
	}
	if c.MaxTokenAge < 0 || c.MaxTokenAge > maxTokenAge {
		return fmt.Errorf("%w: max token age %s: want 0 (off) to %s", ErrConfig, c.MaxTokenAge, maxTokenAge)
	}
	if jwtkeys.IsHMAC(c.Algorithm) {
		if len(c.PublicKeys) > 0 {
			// Accepting both would let anyone who has the public key sign
			// HMAC tokens with it: the classic key-confusion attack.
			return fmt.Errorf("%w: %s uses a secret, not a public key", ErrConfig, c.Algorithm)
		}
		if len(c.Secrets) == 0 {
			return fmt.Errorf("%w: %s needs a secret: set %s or %s (Config.Secrets)", ErrConfig, c.Algorithm, envSecret, envSecretFile)
		}
		for _, s := range c.Secrets {
			if len(s) == 0 {
				return fmt.Errorf("%w: empty secret", ErrConfig)
			}
			if min := jwtkeys.MinSecretBytes(c.Algorithm); len(s) < min && !c.AllowWeakSecret {
				return fmt.Errorf("%w: a %d-byte secret for %s: want at least %d bytes (RFC 7518 §3.2)", ErrConfig, len(s), c.Algorithm, min)
			}
		}
		return nil
	}
	if len(c.Secrets) > 0 {
		return fmt.Errorf("%w: %s uses a public key, not a secret", ErrConfig, c.Algorithm)
	}
	if len(c.PublicKeys) == 0 {
		return fmt.Errorf("%w: %s needs a public key: set %s (Config.PublicKeys)", ErrConfig, c.Algorithm, envPublicKeyPath)
	}
	for _, k := range c.PublicKeys {
		if err := jwtkeys.CheckPublicKey(c.Algorithm, k); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

// ConfigFromEnv reads the JWT_* variables and METRICS_REQUIRED_SCOPE. It
// returns a Config with no keys when none is configured; the caller decides
// whether that is acceptable (it is when authentication is off). Every bad
// value is reported, one line each naming the variable and the value
// (secrets hidden); the error matches ErrConfig.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Config{
		Algorithm:     env.String(lookup, envAlgorithm, jwtkeys.DefaultAlgorithm),
		Audience:      env.String(lookup, envAudience, ""),
		Issuer:        env.String(lookup, envIssuer, ""),
		RequiredScope: env.String(lookup, envRequiredScope, ""),
		Leeway:        defaultLeeway,
	}
	var errs []error
	alg, ok := jwtkeys.Canonical(c.Algorithm)
	if !ok {
		errs = append(errs, env.Errorf(envAlgorithm, c.Algorithm, "want one of %s", jwtkeys.AlgorithmList()))
	}
	c.Algorithm = alg
	if raw := env.String(lookup, envLeeway, ""); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 || d > maxLeeway {
			errs = append(errs, env.Errorf(envLeeway, raw, "want a duration from 0s to %s, e.g. 30s", maxLeeway))
		} else {
			c.Leeway = d
		}
	}
	if strings.ContainsAny(c.RequiredScope, " \t") {
		errs = append(errs, env.Errorf(envRequiredScope, c.RequiredScope, "want a single scope such as metrics:read"))
	}

	if raw := env.String(lookup, envMaxTokenAge, ""); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 || d > maxTokenAge {
			errs = append(errs, env.Errorf(envMaxTokenAge, raw, "want a positive duration up to %s, e.g. 720h for 30 days", maxTokenAge))
		} else {
			c.MaxTokenAge = d
		}
	}
	var err error
	c.AllowWeakSecret, err = env.Bool(lookup, envAllowWeakSecret, false)
	errs = append(errs, err)

	// Secrets are not trimmed: a trailing space may be part of the key.
	secret, hasSecret := nonEmpty(lookup, envSecret)
	secretVar, secretPath := envSecret, ""
	if path := env.String(lookup, envSecretFile, ""); path != "" {
		secretVar, secretPath = envSecretFile, path
		if hasSecret {
			errs = append(errs, env.Errorf(envSecretFile, path, "%s is set too; set one of them", envSecret))
		}
		// Who may read the file is the binary's warning to give.
		s, _, err := jwtkeys.ReadSecretFile(path)
		if err != nil {
			errs = append(errs, env.Errorf(envSecretFile, path, "%v", err))
		}
		secret, hasSecret = s, err == nil
	}
	previous, hasPrevious := nonEmpty(lookup, envSecretPrevious)
	keyPath := env.String(lookup, envPublicKeyPath, "")
	prevPath := env.String(lookup, envPublicKeyPrevious, "")
	if hasPrevious && !hasSecret {
		errs = append(errs, &env.Error{Var: envSecretPrevious, Value: previous, Secret: true,
			Reason: "is set but " + envSecret + " is not; the previous secret only complements the current one"})
	}
	if prevPath != "" && keyPath == "" {
		errs = append(errs, env.Errorf(envPublicKeyPrevious, prevPath, "is set but %s is not", envPublicKeyPath))
	}

	if ok && jwtkeys.IsHMAC(alg) {
		if keyPath != "" {
			errs = append(errs, env.Errorf(envPublicKeyPath, keyPath,
				"%s=%s signs with %s; a public key needs RS*, ES* or EdDSA", envAlgorithm, alg, envSecret))
		}
		if hasSecret {
			c.Secrets = append(c.Secrets, []byte(secret))
			errs = append(errs, c.checkSecretLength(secretVar, secret, secretPath))
		}
		if hasSecret && hasPrevious {
			c.Secrets = append(c.Secrets, []byte(previous))
			errs = append(errs, c.checkSecretLength(envSecretPrevious, previous, ""))
		}
	} else if ok {
		if hasSecret {
			errs = append(errs, &env.Error{Var: envSecret, Value: secret, Secret: true,
				Reason: fmt.Sprintf("%s=%s verifies with %s, not a secret; unset one of them", envAlgorithm, alg, envPublicKeyPath)})
		}
		for _, v := range [][2]string{{envPublicKeyPath, keyPath}, {envPublicKeyPrevious, prevPath}} {
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
	min := jwtkeys.MinSecretBytes(c.Algorithm)
	if len(secret) >= min || c.AllowWeakSecret {
		return nil
	}
	value, hidden := secret, true
	if path != "" {
		value, hidden = path, false
	}
	return &env.Error{Var: name, Value: value, Secret: hidden, Reason: fmt.Sprintf(
		"%d bytes; %s needs at least %d (RFC 7518 §3.2), e.g. openssl rand -hex %d; %s=true accepts a shorter one",
		len(secret), c.Algorithm, min, min, envAllowWeakSecret)}
}

func nonEmpty(lookup env.Lookup, name string) (string, bool) {
	v, ok := lookup(name)
	return v, ok && strings.TrimSpace(v) != ""
}

func readPublicKeys(alg, path string) ([]crypto.PublicKey, error) {
	// A public key is no secret: who may read its file does not matter.
	data, _, err := credfile.Read(path, credfile.MaxPEMBytes)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file: %w", err)
	}
	keys, err := jwtkeys.ParsePublicKeysPEM(data)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := jwtkeys.CheckPublicKey(alg, k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
