package jwtkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ErrKey is wrapped by every error about a key's encoding or fitness.
var ErrKey = errors.New("unusable key")

// minRSABits follows NIST SP 800-131A; jose and jsonwebtoken refuse smaller
// keys too, so tokens from them never need it.
const minRSABits = 2048

// ParsePublicKeysPEM returns every public key in PEM data: "PUBLIC KEY"
// (PKIX), "RSA PUBLIC KEY" (PKCS #1) and "CERTIFICATE" blocks. A file may hold
// several keys, which is how a key pair is rotated.
func ParsePublicKeysPEM(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var (
			k   crypto.PublicKey
			err error
		)
		switch block.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				k = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, fmt.Errorf("%w: found a %s; the verifier needs only the public key (openssl pkey -pubout)", ErrKey, block.Type)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s block: %w", ErrKey, block.Type, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no PEM public key or certificate found", ErrKey)
	}
	return keys, nil
}

// ParsePrivateKeyPEM returns the first private key in PEM data: PKCS #8
// ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM private key found", ErrKey)
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s block: %w", ErrKey, block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T cannot sign", ErrKey, k)
		}
		return s, nil
	}
}

// CheckPublicKey refuses a key that does not belong to alg, so a
// misconfiguration fails at start rather than on every scrape.
func CheckPublicKey(alg string, k crypto.PublicKey) error {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") {
			return fmt.Errorf("%w: an RSA key cannot verify %s", ErrKey, alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: RSA key has %d bits; want at least %d", ErrKey, k.N.BitLen(), minRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}[alg]
		if want == nil {
			return fmt.Errorf("%w: an ECDSA key cannot verify %s", ErrKey, alg)
		}
		if k.Curve != want {
			return fmt.Errorf("%w: %s needs a %s key, not %s", ErrKey, alg, want.Params().Name, k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return fmt.Errorf("%w: an Ed25519 key cannot verify %s", ErrKey, alg)
		}
		return nil
	}
	return fmt.Errorf("%w: %T keys are not supported", ErrKey, k)
}
