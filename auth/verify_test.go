package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/views"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

func TestVerify(t *testing.T) {
	hs := hmacConfig("HS256", secret)
	rs := keyConfig("RS256", keys()["rsa"])
	es := keyConfig("ES256", keys()["p256"])

	// An HMAC token keyed with the RSA public key's PEM: the key-confusion
	// attack a verifier that trusts the header's alg falls for.
	confusion := mint(t, auth.MintOptions{Algorithm: "HS256", Secret: publicPEM(t, keys()["rsa"])})

	withAud := hs
	withAud.Audience, withAud.Issuer = "metricsbridge", "https://issuer.example"
	withScope := hs
	withScope.RequiredScope = "metrics:read"
	rotated := hmacConfig("HS256", []byte("a-brand-new-secret-of-32-bytes!!"), secret)
	rotatedKeys := keyConfig("ES256", keys()["p256b"], keys()["p256"])

	hsTok := mint(t, auth.MintOptions{Algorithm: "HS256"})
	sig := func(header, payload string) []byte {
		m := hmac.New(sha256.New, secret)
		enc := base64.RawURLEncoding
		m.Write([]byte(enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))))
		return m.Sum(nil)
	}
	// signed makes an HS256 token with a literal payload, for claims Mint
	// does not write.
	signed := func(format string, args ...any) string {
		header, payload := `{"alg":"HS256","typ":"JWT"}`, fmt.Sprintf(format, args...)
		return raw(header, payload, sig(header, payload))
	}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	maxAge := hs
	maxAge.MaxTokenAge = time.Hour
	critHeader := `{"alg":"HS256","typ":"JWT","crit":["exp"]}`
	critPayload := `{"sub":"prometheus@monitoring"}`

	tests := []struct {
		name   string
		cfg    auth.Config
		header string
		want   error
	}{
		// Accepted.
		{"HS256 no exp", hs, "Bearer " + hsTok, nil},
		{"HS384", hmacConfig("HS384", secret), "Bearer " + mint(t, auth.MintOptions{Algorithm: "HS384"}), nil},
		{"HS512", hmacConfig("HS512", secret), "Bearer " + mint(t, auth.MintOptions{Algorithm: "HS512"}), nil},
		{"RS256", rs, "Bearer " + mint(t, auth.MintOptions{Algorithm: "RS256"}), nil},
		{"RS384", keyConfig("RS384", keys()["rsa"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "RS384"}), nil},
		{"RS512", keyConfig("RS512", keys()["rsa"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "RS512"}), nil},
		{"ES256", es, "Bearer " + mint(t, auth.MintOptions{Algorithm: "ES256"}), nil},
		{"ES384", keyConfig("ES384", keys()["p384"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "ES384"}), nil},
		{"EdDSA", keyConfig("EdDSA", keys()["ed25519"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "EdDSA"}), nil},
		{"lower-case scheme", hs, "bearer " + hsTok, nil},
		{"surrounding blanks", hs, "  Bearer   " + hsTok + " ", nil},
		{"exp in the future", hs, "Bearer " + mint(t, auth.MintOptions{ExpMinutes: 5}), nil},
		{"expired within leeway", hs, "Bearer " + mint(t, auth.MintOptions{ExpMinutes: 1, Now: func() time.Time { return now.Add(-70 * time.Second) }}), nil},
		{"aud and iss", withAud, "Bearer " + mint(t, auth.MintOptions{Audience: "metricsbridge", Issuer: "https://issuer.example"}), nil},
		{"aud among several", withAud, "Bearer " + signed(`{"sub":"prometheus@monitoring","aud":["grafana","metricsbridge"],"iss":"https://issuer.example"}`), nil},
		{"nbf within leeway", hs, "Bearer " + signed(`{"sub":"prometheus@monitoring","nbf":%d}`, at(20*time.Second)), nil},
		{"scope string", withScope, "Bearer " + mint(t, auth.MintOptions{Scope: "openid metrics:read"}), nil},
		{"scp array", withScope, "Bearer " + mint(t, auth.MintOptions{Extra: map[string]any{"scp": []string{"metrics:read"}}}), nil},
		{"previous secret", rotated, "Bearer " + hsTok, nil},
		{"previous public key", rotatedKeys, "Bearer " + mint(t, auth.MintOptions{Algorithm: "ES256"}), nil},
		{"sub alone", hs, "Bearer " + signed(`{"sub":"prometheus@monitoring"}`), nil},
		{"within the maximum age", maxAge, "Bearer " + signed(`{"sub":"prometheus@monitoring","iat":%d}`, at(-59*time.Minute)), nil},
		{"maximum age plus leeway", maxAge, "Bearer " + signed(`{"sub":"prometheus@monitoring","iat":%d}`, at(-time.Hour-20*time.Second)), nil},

		// Refused.
		{"no header", hs, "", auth.ErrMissing},
		{"scheme alone", hs, "Bearer", auth.ErrMissing},
		{"scheme and blanks", hs, "Bearer    ", auth.ErrMissing},
		{"basic scheme", hs, "Basic dXNlcjpwYXNz", auth.ErrMalformed},
		{"token without scheme", hs, hsTok, auth.ErrMalformed},
		{"huge header", hs, "Bearer " + strings.Repeat("a", auth.MaxAuthorizationBytes), auth.ErrTooLarge},
		{"two parts", hs, "Bearer abc.def", auth.ErrMalformed},
		{"garbage base64", hs, "Bearer !!!.@@@.###", auth.ErrMalformed},
		{"padded base64", hs, "Bearer " + strings.Replace(hsTok, ".", "=.", 1), auth.ErrMalformed},
		{"header not JSON", hs, "Bearer " + raw("nope", `{}`, nil), auth.ErrMalformed},
		{"payload not an object", hs, "Bearer " + raw(`{"alg":"HS256"}`, `[1]`, sig(`{"alg":"HS256"}`, `[1]`)), auth.ErrMalformed},
		{"tampered payload", hs, "Bearer " + tamper(t, hsTok, map[string]any{"sub": "admin"}), auth.ErrSignature},
		{"tampered signature", hs, "Bearer " + hsTok[:len(hsTok)-4] + "AAAA", auth.ErrSignature},
		{"wrong secret", hmacConfig("HS256", []byte("another-secret-another-secret-!!")), "Bearer " + hsTok, auth.ErrSignature},
		{"wrong RSA key", keyConfig("RS256", keys()["rsa2"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "RS256"}), auth.ErrSignature},
		{"wrong EC key", keyConfig("ES256", keys()["p256b"]), "Bearer " + mint(t, auth.MintOptions{Algorithm: "ES256"}), auth.ErrSignature},
		{"alg none", hs, "Bearer " + raw(`{"alg":"none","typ":"JWT"}`, `{"sub":"admin"}`, nil), auth.ErrAlgorithm},
		{"alg None", hs, "Bearer " + raw(`{"alg":"None"}`, `{"sub":"admin"}`, nil), auth.ErrAlgorithm},
		{"unknown alg", hs, "Bearer " + raw(`{"alg":"HS999"}`, `{}`, []byte("x")), auth.ErrAlgorithm},
		{"HS token keyed with the RSA public key", rs, "Bearer " + confusion, auth.ErrAlgorithm},
		{"RS token when HS is configured", hs, "Bearer " + mint(t, auth.MintOptions{Algorithm: "RS256"}), auth.ErrAlgorithm},
		{"HS384 when HS256 is configured", hs, "Bearer " + mint(t, auth.MintOptions{Algorithm: "HS384"}), auth.ErrAlgorithm},
		{"ES384 when ES256 is configured", es, "Bearer " + mint(t, auth.MintOptions{Algorithm: "ES384"}), auth.ErrAlgorithm},
		{"expired", hs, "Bearer " + mint(t, auth.MintOptions{ExpMinutes: 1, Now: func() time.Time { return now.Add(-2 * time.Minute) }}), auth.ErrExpired},
		{"nbf in the future", hs, "Bearer " + signed(`{"sub":"prometheus@monitoring","nbf":%d}`, at(5*time.Minute)), auth.ErrNotYetValid},
		{"exp long past", hs, "Bearer " + signed(`{"sub":"prometheus@monitoring","exp":%d}`, at(-24*time.Hour)), auth.ErrExpired},
		{"iat in the future", hs, "Bearer " + mint(t, auth.MintOptions{Now: func() time.Time { return now.Add(time.Hour) }}), auth.ErrNotYetValid},
		{"exp is a string", hs, "Bearer " + raw(`{"alg":"HS256"}`, `{"exp":"tomorrow"}`, sig(`{"alg":"HS256"}`, `{"exp":"tomorrow"}`)), auth.ErrClaims},
		{"wrong audience", withAud, "Bearer " + mint(t, auth.MintOptions{Audience: "someone-else", Issuer: "https://issuer.example"}), auth.ErrAudience},
		{"missing audience", withAud, "Bearer " + mint(t, auth.MintOptions{Issuer: "https://issuer.example"}), auth.ErrAudience},
		{"missing issuer", withAud, "Bearer " + mint(t, auth.MintOptions{Audience: "metricsbridge"}), auth.ErrIssuer},
		{"wrong issuer", withAud, "Bearer " + mint(t, auth.MintOptions{Audience: "metricsbridge", Issuer: "https://evil.example"}), auth.ErrIssuer},
		{"no claims at all", hs, "Bearer " + signed(`{}`), auth.ErrClaims},
		{"empty sub", hs, "Bearer " + signed(`{"sub":" ","exp":%d}`, at(time.Hour)), auth.ErrClaims},
		{"sub not a string", hs, "Bearer " + signed(`{"sub":42,"iat":%d}`, at(0)), auth.ErrClaims},
		{"only exp and iat", hs, "Bearer " + signed(`{"iat":%d,"exp":%d}`, at(0), at(time.Hour)), auth.ErrClaims},
		{"crit header", hs, "Bearer " + raw(critHeader, critPayload, sig(critHeader, critPayload)), auth.ErrMalformed},
		{"older than the maximum age", maxAge, "Bearer " + signed(`{"sub":"prometheus@monitoring","iat":%d,"exp":%d}`, at(-2*time.Hour), at(time.Hour)), auth.ErrExpired},
		{"no iat with a maximum age", maxAge, "Bearer " + signed(`{"sub":"prometheus@monitoring","exp":%d}`, at(time.Hour)), auth.ErrClaims},
		{"missing scope", withScope, "Bearer " + mint(t, auth.MintOptions{Scope: "metrics:write"}), auth.ErrScope},
		{"scope prefix only", withScope, "Bearer " + mint(t, auth.MintOptions{Scope: "metrics:read-all"}), auth.ErrScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.cfg)
			claims, err := v.Verify(tt.header)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got := claims["sub"]; got != "prometheus@monitoring" {
					t.Errorf("sub = %q", got)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			// A caller branches on four public sentinels: every refusal
			// of a presented token is ErrInvalid, whatever its reason,
			// and a missing token or scope is not.
			public := tt.want == auth.ErrMissing || tt.want == auth.ErrScope
			if errors.Is(err, auth.ErrInvalid) == public {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, !public, public)
			}
			if !strings.Contains(err.Error(), tt.want.Error()) {
				t.Errorf("Verify error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestNilOptions checks that a nil option, or an option given nil, keeps
// the default rather than panicking on the first request.
func TestNilOptions(t *testing.T) {
	cfg := hmacConfig("HS256", secret)
	tok := mint(t, auth.MintOptions{})
	for _, tc := range []struct {
		name string
		opt  auth.Option
	}{
		{"nil option", nil},
		{"WithLogger(nil)", auth.WithLogger(nil)},
		{"WithClock(nil)", auth.WithClock(nil)},
		{"WithMeterProvider(nil)", auth.WithMeterProvider(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.NewVerifier(cfg, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			for _, header := range []string{"Bearer " + tok, "Bearer x"} {
				req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
				req.Header.Set("Authorization", header)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			if _, err := v.Verify("Bearer " + tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	vs, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(vs...))
	cfg := hmacConfig("HS256", secret)
	cfg.RequiredScope = "metrics:read"
	v := newVerifier(t, cfg, auth.WithMeterProvider(mp))
	var seen auth.Claims
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = auth.ClaimsFromContext(r.Context())
		io.WriteString(w, "metrics\n")
	}))
	good := mint(t, auth.MintOptions{Scope: "metrics:read"})

	tests := []struct {
		name      string
		headers   []string
		status    int
		challenge string
		reason    string
	}{
		{"valid", []string{"Bearer " + good}, 200, "", ""},
		{"missing", nil, 401, `Bearer realm="metrics"`, "missing"},
		{"malformed", []string{"Bearer x"}, 401, `Bearer realm="metrics", error="invalid_token", error_description="malformed token"`, "malformed"},
		{"two headers", []string{"Bearer " + good, "Bearer " + good}, 401, `Bearer realm="metrics", error="invalid_token", error_description="malformed token"`, "malformed"},
		{"bad signature", []string{"Bearer " + good[:len(good)-4] + "AAAA"}, 401, `Bearer realm="metrics", error="invalid_token", error_description="signature does not verify"`, "signature"},
		{"too large", []string{"Bearer " + strings.Repeat("x", 9000)}, 401, `Bearer realm="metrics", error="invalid_request", error_description="authorization header too large"`, "too_large"},
		{"no scope", []string{"Bearer " + mint(t, auth.MintOptions{})}, 403, `Bearer realm="metrics", error="insufficient_scope", error_description="required scope missing", scope="metrics:read"`, "scope"},
	}
	want := map[string]int64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q\nwant %q", got, tt.challenge)
			}
			if tt.status == 200 {
				if seen["sub"] != "prometheus@monitoring" {
					t.Errorf("claims in context = %v", seen)
				}
				return
			}
			want[tt.reason]++
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var body struct{ Error, Reason, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body.Reason != tt.reason || body.Error == "" || body.Message == "" {
				t.Errorf("body = %+v", body)
			}
			if strings.Contains(rec.Body.String(), good) {
				t.Error("the body echoes the token")
			}
		})
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "metricsbridge_auth_failures" {
				t.Errorf("unexpected metric %q", m.Name)
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				r, _ := dp.Attributes.Value(mbsemconv.KeyReason)
				got[r.AsString()] = dp.Value
			}
		}
	}
	// Every reason has a series from the start, most of them at zero.
	if len(got) != 11 {
		t.Errorf("%d reason series, want 11: %v", len(got), got)
	}
	for r, n := range got {
		if n != want[r] {
			t.Errorf("failures{reason=%q} = %d, want %d", r, n, want[r])
		}
	}
}

// A flood of bad tokens must not cost allocations beyond the parser's.
func TestRefusalIsCheap(t *testing.T) {
	v := newVerifier(t, hmacConfig("HS256", secret))
	h := v.Middleware(http.NotFoundHandler())
	req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
	rec := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		rec.Body.Reset()
		h.ServeHTTP(rec, req)
	})
	// Header map writes are the only allocations left.
	if allocs > 6 {
		t.Errorf("%.0f allocations to refuse a request without a token", allocs)
	}
}

func FuzzVerify(f *testing.F) {
	hs := mint(f, auth.MintOptions{Algorithm: "HS256", Scope: "metrics:read"})
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer " + hs, "Bearer " + hs, "Basic Zm9vOmJhcg==",
		"Bearer " + raw(`{"alg":"none"}`, `{}`, nil),
		"Bearer " + tamper(f, hs, map[string]any{"exp": "x", "aud": []any{1, nil}}),
		"Bearer a.b.c", "Bearer ..", "Bearer " + strings.Repeat("e", 100) + "..",
	} {
		f.Add(s)
	}
	cfg := hmacConfig("HS256", secret)
	cfg.RequiredScope = "metrics:read"
	cfg.Audience = "" // the seeds carry none
	v := newVerifier(f, cfg)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Fuzz(func(t *testing.T, header string) {
		claims, err := v.Verify(header)
		if err == nil {
			// Anything accepted must really be the token we signed: the
			// fuzzer cannot forge HMAC, only vary what surrounds it.
			if claims["sub"] != "prometheus@monitoring" {
				t.Fatalf("accepted %q with claims %v", header, claims)
			}
		}
		if err != nil && claims != nil && !errors.Is(err, auth.ErrScope) {
			t.Fatalf("claims returned with error %v", err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case err == nil && rec.Code != 200,
			errors.Is(err, auth.ErrScope) && rec.Code != 403,
			err != nil && !errors.Is(err, auth.ErrScope) && rec.Code != 401:
			t.Fatalf("Verify error %v but status %d", err, rec.Code)
		}
		if rec.Code != 200 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Bearer realm="metrics"`) {
			t.Fatalf("no challenge for %d", rec.Code)
		}
	})
}
