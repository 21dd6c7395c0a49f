// Package auth protects the scrape endpoint with JSON Web Tokens and mints
// the tokens scrapers present.
//
// A [Verifier] accepts exactly one signing algorithm, chosen by the operator:
// HS256/384/512 with a shared secret, or RS256/384/512, ES256/384 and EdDSA
// with a public key. A token signed with any other algorithm, including
// "none" and an HMAC token keyed with the public key, is refused. The
// registered claims exp, nbf and iat are checked with a small leeway; a token
// without exp never expires, which is what long-lived scrape credentials
// want. When an audience, issuer or required scope is configured, tokens must
// carry it.
//
// Refusals follow RFC 6750: 401 with a WWW-Authenticate challenge for
// missing, malformed or invalid tokens and 403 for a valid token that lacks
// the required scope, each with a small JSON body. Every refusal is counted
// by reason in the metricsbridge_auth_failures_total self-metric; neither
// tokens nor keys are ever logged.
//
// Verify's refusals match one of four sentinels under errors.Is: ErrMissing
// (no token: prompt for one), ErrInvalid (every refusal of a presented
// token), ErrExpired (a refinement of ErrInvalid: mint a fresh token) and
// ErrScope (a valid token without the required scope: 403). The error text
// and the reason label say which check failed.
//
// A previous secret or public key may be configured next to the current one
// so that keys can be rotated without a gap in scrapes.
//
// ConfigFromEnv reads these variables:
//
//	JWT_ALGORITHM                 the one accepted algorithm (HS256)
//	JWT_SECRET_KEY                HMAC secret for HS256/384/512
//	JWT_SECRET_KEY_FILE           file holding it instead
//	JWT_SECRET_KEY_PREVIOUS       the secret being rotated out
//	JWT_PUBLIC_KEY_PATH           PEM public key file for RS*, ES*, EdDSA
//	JWT_PUBLIC_KEY_PATH_PREVIOUS  the key file being rotated out
//	JWT_AUDIENCE, JWT_ISSUER      required aud and iss claims
//	METRICS_REQUIRED_SCOPE        required scope (403 without it)
//	JWT_LEEWAY                    clock skew allowed (30s, at most 5m)
//	JWT_MAX_TOKEN_AGE             refuse tokens issued longer ago (off)
//	JWT_ALLOW_WEAK_SECRET         accept a secret shorter than the hash (false)
package auth
