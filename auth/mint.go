package auth

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

// MintOptions describe a token. Username is required; everything else is
// optional.
type MintOptions struct {
	// Username becomes the sub claim, e.g. "prometheus@monitoring".
	Username string
	// ExpMinutes sets exp that many minutes after now. Zero mints a token
	// without exp, which never expires: the usual scrape credential.
	ExpMinutes int
	// Expiry, when positive, sets exp that long after now (to the second)
	// and wins over ExpMinutes.
	Expiry time.Duration
	// Algorithm is one of the algorithms JWT_ALGORITHM accepts (HS256,
	// HS384, HS512, RS256, RS384, RS512, ES256, ES384, EdDSA); empty means
	// HS256.
	Algorithm string
	// Secret signs HS* tokens; PrivateKey signs the others.
	Secret     []byte
	PrivateKey crypto.Signer
	// Audience, Issuer and Scope fill aud, iss and scope when set.
	Audience string
	Issuer   string
	Scope    string
	// Extra claims are added as they are; they may not replace the claims
	// above.
	Extra map[string]any
	// Now replaces time.Now for iat and exp.
	Now func() time.Time
	// AllowWeakSecret signs with an HMAC secret shorter than RFC 7518
	// §3.2 allows (the hash size), which is refused otherwise.
	AllowWeakSecret bool
}

// errMint is wrapped by every error about options Mint cannot sign with.
var errMint = fmt.Errorf("%w: cannot mint a token", ErrConfig)

// reservedClaims are the ones Mint sets itself.
var reservedClaims = []string{"sub", "iat", "exp", "nbf", "aud", "iss", "scope", "jti"}

// Mint signs a token. Like the Python gateway's token tool it always
// sets sub, iat and a random jti (128 bits, base64url), plus exp, aud, iss
// and scope when asked. The header carries only alg and typ, so any
// standard JWT library can verify it with the same key. Options it cannot
// sign with are an error matching ErrConfig; any other error is the
// system's (randomness, signing).
func Mint(o MintOptions) (string, error) {
	alg := o.Algorithm
	if alg == "" {
		alg = jwtkeys.DefaultAlgorithm
	}
	alg, ok := jwtkeys.Canonical(alg)
	if !ok {
		return "", fmt.Errorf("%w: algorithm %q: want one of %s", errMint, alg, jwtkeys.AlgorithmList())
	}
	if strings.TrimSpace(o.Username) == "" {
		return "", fmt.Errorf("%w: a username is required", errMint)
	}
	if o.ExpMinutes < 0 || o.Expiry < 0 {
		return "", fmt.Errorf("%w: exp %d minutes, expiry %s: want 0 (never expires) or more", errMint, o.ExpMinutes, o.Expiry)
	}
	expiry := o.Expiry
	if expiry == 0 {
		expiry = time.Duration(o.ExpMinutes) * time.Minute
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	t := now()

	claims := jwt.MapClaims{}
	for k, v := range o.Extra {
		if slices.Contains(reservedClaims, k) {
			return "", fmt.Errorf("%w: extra claim %q is set by its own option", errMint, k)
		}
		claims[k] = v
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("auth: cannot mint a token: %w", err)
	}
	claims["sub"] = o.Username
	claims["iat"] = t.Unix()
	claims["jti"] = base64.RawURLEncoding.EncodeToString(jti)
	if expiry > 0 {
		claims["exp"] = t.Add(expiry).Unix()
	}
	if o.Audience != "" {
		claims["aud"] = o.Audience
	}
	if o.Issuer != "" {
		claims["iss"] = o.Issuer
	}
	if o.Scope != "" {
		claims["scope"] = o.Scope
	}

	var key any
	if jwtkeys.IsHMAC(alg) {
		if o.PrivateKey != nil {
			return "", fmt.Errorf("%w: %s signs with a secret, not a private key", errMint, alg)
		}
		if len(o.Secret) == 0 {
			return "", fmt.Errorf("%w: %s needs a secret (MintOptions.Secret; the binary reads it from JWT_SECRET_KEY, JWT_SECRET_KEY_FILE or --secret-file)", errMint, alg)
		}
		if min := jwtkeys.MinSecretBytes(alg); len(o.Secret) < min && !o.AllowWeakSecret {
			return "", fmt.Errorf("%w: a %d-byte secret for %s: want at least %d bytes (RFC 7518 §3.2)", errMint, len(o.Secret), alg, min)
		}
		key = o.Secret
	} else {
		if o.PrivateKey == nil {
			return "", fmt.Errorf("%w: %s needs a private key (MintOptions.PrivateKey; the binary reads it from --private-key)", errMint, alg)
		}
		if err := jwtkeys.CheckPublicKey(alg, o.PrivateKey.Public()); err != nil {
			return "", fmt.Errorf("%w: %w", errMint, err)
		}
		key = o.PrivateKey
	}
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: cannot mint a token: %w", err)
	}
	return s, nil
}
