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
// A previous secret or public key may be configured next to the current one
// so that keys can be rotated without a gap in scrapes.
package auth
