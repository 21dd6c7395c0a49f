package auth

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrMint is wrapped by every error Mint returns.
var ErrMint = errors.New("auth: cannot mint token")

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
	// Algorithm is one of Algorithms; empty means DefaultAlgorithm.
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
	// AllowWeakSecret signs with an HMAC secret shorter than
	// MinSecretBytes, which is refused otherwise.
	AllowWeakSecret bool
}

// reservedClaims are the ones Mint sets itself.
var reservedClaims = []string{"sub", "iat", "exp", "nbf", "aud", "iss", "scope", "jti"}

// Mint signs a token. Like the reference gateway's token tool it always
// sets sub, iat and a random jti (128 bits, base64url), plus exp, aud, iss
// and scope when asked. The header carries only alg and typ, so any
// standard JWT library can verify it with the same key.
func Mint(o MintOptions) (string, error) {
	alg := o.Algorithm
	if alg == "" {
		alg = DefaultAlgorithm
	}
	alg, ok := canonicalAlgorithm(alg)
	if !ok {
		return "", fmt.Errorf("%w: algorithm %q: want one of %s", ErrMint, alg, strings.Join(Algorithms, ", "))
	}
	if strings.TrimSpace(o.Username) == "" {
		return "", fmt.Errorf("%w: a username is required", ErrMint)
	}
	if o.ExpMinutes < 0 || o.Expiry < 0 {
		return "", fmt.Errorf("%w: exp %d minutes, expiry %s: want 0 (never expires) or more", ErrMint, o.ExpMinutes, o.Expiry)
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
			return "", fmt.Errorf("%w: extra claim %q is set by its own option", ErrMint, k)
		}
		claims[k] = v
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
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
	if IsHMAC(alg) {
		if o.PrivateKey != nil {
			return "", fmt.Errorf("%w: %s signs with a secret, not a private key", ErrMint, alg)
		}
		if len(o.Secret) == 0 {
			return "", fmt.Errorf("%w: %s needs a secret (MintOptions.Secret; the binary reads it from JWT_SECRET_KEY, JWT_SECRET_KEY_FILE or --secret-file)", ErrMint, alg)
		}
		if min := MinSecretBytes(alg); len(o.Secret) < min && !o.AllowWeakSecret {
			return "", fmt.Errorf("%w: a %d-byte secret for %s: want at least %d bytes (RFC 7518 §3.2)", ErrMint, len(o.Secret), alg, min)
		}
		key = o.Secret
	} else {
		if o.PrivateKey == nil {
			return "", fmt.Errorf("%w: %s needs a private key (MintOptions.PrivateKey; the binary reads it from --private-key)", ErrMint, alg)
		}
		if err := checkPublicKey(alg, o.PrivateKey.Public()); err != nil {
			return "", fmt.Errorf("%w: %w", ErrMint, err)
		}
		key = o.PrivateKey
	}
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	return s, nil
}
