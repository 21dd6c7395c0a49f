package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

// BenchmarkVerify puts the Verifier next to a bare golang-jwt parse with the
// same key, the hand-wired alternative: the difference is the policy
// (scheme, size and algorithm checks, reasons, scope).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		var cfg auth.Config
		var key any
		if jwtkeys.IsHMAC(alg) {
			cfg, key = hmacConfig(alg, secret), secret
		} else {
			cfg, key = keyConfig(alg, keyFor(alg)), keyFor(alg).Public()
		}
		cfg.RequiredScope = "metrics:read"
		tok := mint(b, auth.MintOptions{Algorithm: alg, Scope: "metrics:read"})
		v := newVerifier(b, cfg)
		header := "Bearer " + tok
		b.Run(alg+"/metricsbridge", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(header); err != nil {
					b.Fatal(err)
				}
			}
		})
		p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(clock))
		b.Run(alg+"/golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(tok, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefuse is the cost of turning away a scrape without a token, the
// request a flood would send.
func BenchmarkRefuse(b *testing.B) {
	v, err := auth.NewVerifier(hmacConfig("HS256", secret))
	if err != nil {
		b.Fatal(err)
	}
	h := v.Middleware(http.NotFoundHandler())
	req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		rec.Body.Reset()
		h.ServeHTTP(rec, req)
	}
}
