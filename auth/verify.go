package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// maxAuthorizationBytes bounds the Authorization header at 8 KiB. Real
// scrape tokens are a few hundred bytes; anything near this is an attack or
// a mistake and is refused before any decoding.
const maxAuthorizationBytes = 8 << 10

// realm names the protection space in WWW-Authenticate challenges.
const realm = "metrics"

// scopeName is the instrumentation scope of the failure counter.
const scopeName = "github.com/metricsbridge/metricsbridge/auth"

// What a caller acts on differently when Verify refuses a token: prompt for
// credentials, ask for a fresh token, or answer 403.
var (
	// ErrMissing: the request carries no bearer token.
	ErrMissing = errors.New("no bearer token")
	// ErrInvalid is matched by every refusal of a token that was presented,
	// ErrExpired included, and not by ErrMissing or ErrScope. The error
	// text, and the reason label of the auth-failures self-metric, still
	// say which check failed.
	ErrInvalid = errors.New("invalid token")
	// ErrExpired: the token's exp has passed, or it was issued longer ago
	// than Config.MaxTokenAge allows. It matches ErrInvalid too.
	ErrExpired error = invalid("token expired")
	// ErrScope: the token is valid but lacks Config.RequiredScope (403).
	ErrScope = errors.New("required scope missing")
)

// The detailed reasons behind ErrInvalid.
var (
	errTooLarge    = invalid("authorization header too large")
	errMalformed   = invalid("malformed token")
	errAlgorithm   = invalid("signing algorithm not accepted")
	errSignature   = invalid("signature does not verify")
	errNotYetValid = invalid("token not valid yet")
	errAudience    = invalid("wrong audience")
	errIssuer      = invalid("wrong issuer")
	errClaims      = invalid("invalid claims")
)

// invalidReason is one reason a presented token is refused: its text is
// the reason alone, and it matches ErrInvalid.
type invalidReason struct{ msg string }

func invalid(msg string) error { return &invalidReason{msg} }

func (r *invalidReason) Error() string { return r.msg }

func (r *invalidReason) Is(target error) bool { return target == ErrInvalid }

// refusal is everything the middleware needs to answer for one reason,
// computed once so a flood of bad requests costs little.
type refusal struct {
	err       error
	reason    string
	status    int
	challenge string
	body      []byte
	attrs     metric.AddOption
}

func newRefusal(err error, reason string, status int, scope string) refusal {
	code := "invalid_token"
	challenge := `Bearer realm="` + realm + `"`
	switch {
	case err == ErrMissing:
		// RFC 6750 §3.1: no error code when the request had no credentials.
		code = ""
	case err == errTooLarge:
		code = "invalid_request"
	case err == ErrScope:
		code = "insufficient_scope"
	}
	if code != "" {
		challenge += `, error="` + code + `", error_description="` + err.Error() + `"`
	}
	if err == ErrScope {
		challenge += `, scope="` + scope + `"`
	}
	if code == "" {
		code = "unauthorized"
	}
	body := fmt.Sprintf(`{"error":%q,"reason":%q,"message":%q}`+"\n", code, reason, err.Error())
	return refusal{err: err, reason: reason, status: status, challenge: challenge, body: []byte(body),
		attrs: metric.WithAttributeSet(attribute.NewSet(mbsemconv.KeyReason.String(reason)))}
}

// Claims are a verified token's payload: claims["sub"] is the subject the
// token was minted for.
type Claims map[string]any

// scopes returns the space-separated "scope" claim (RFC 8693), or the
// "scope"/"scp" array some issuers write instead.
func (c Claims) scopes() []string {
	for _, name := range []string{"scope", "scp"} {
		switch v := c[name].(type) {
		case string:
			return strings.Fields(v)
		case []any:
			out := make([]string, 0, len(v))
			for _, s := range v {
				if s, ok := s.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}

type options struct {
	mp     metric.MeterProvider
	logger *slog.Logger
	now    func() time.Time
}

// Option configures a Verifier.
type Option interface{ apply(options) options }

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// WithMeterProvider sets where the failure counter is recorded. Without it,
// or with nil, failures are not counted.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o options) options {
		if mp != nil {
			o.mp = mp
		}
		return o
	})
}

// WithLogger sets the logger for refusals, which are logged at debug level
// with their reason and never with the token. Nil keeps slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options {
		if l != nil {
			o.logger = l
		}
		return o
	})
}

// WithClock replaces time.Now when checking exp, nbf and iat. Nil keeps
// time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o options) options {
		if now != nil {
			o.now = now
		}
		return o
	})
}

// Verifier checks bearer tokens against a Config. It is safe for concurrent
// use.
type Verifier struct {
	cfg      Config
	parser   *jwt.Parser
	keys     jwt.VerificationKeySet
	refusals []refusal
	failures metric.Int64Counter
	logger   *slog.Logger
	now      func() time.Time
}

// NewVerifier returns a Verifier for cfg. A Config whose keys do not fit
// its algorithm, or whose leeway or maximum age is out of range, is an
// error matching ErrConfig.
func NewVerifier(cfg Config, opts ...Option) (*Verifier, error) {
	o := options{mp: noop.NewMeterProvider(), logger: slog.Default(), now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			o = opt.apply(o)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{cfg.Algorithm}),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(o.now),
		jwt.WithStrictDecoding(),
	}
	if cfg.Audience != "" {
		popts = append(popts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(cfg.Issuer))
	}
	v := &Verifier{cfg: cfg, parser: jwt.NewParser(popts...), logger: o.logger, now: o.now}
	for _, s := range cfg.Secrets {
		v.keys.Keys = append(v.keys.Keys, s)
	}
	for _, k := range cfg.PublicKeys {
		v.keys.Keys = append(v.keys.Keys, k)
	}

	var err error
	v.failures, err = o.mp.Meter(scopeName).Int64Counter(mbsemconv.InstrumentAuthFailures,
		metric.WithDescription("Requests to the metrics endpoint refused by authentication, by reason."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	for _, r := range []struct {
		err    error
		reason string
		status int
	}{
		{ErrMissing, "missing", http.StatusUnauthorized},
		{errTooLarge, "too_large", http.StatusUnauthorized},
		{errMalformed, "malformed", http.StatusUnauthorized},
		{errAlgorithm, "algorithm", http.StatusUnauthorized},
		{errSignature, "signature", http.StatusUnauthorized},
		{ErrExpired, "expired", http.StatusUnauthorized},
		{errNotYetValid, "not_yet_valid", http.StatusUnauthorized},
		{errAudience, "audience", http.StatusUnauthorized},
		{errIssuer, "issuer", http.StatusUnauthorized},
		{errClaims, "claims", http.StatusUnauthorized},
		{ErrScope, "scope", http.StatusForbidden},
	} {
		rf := newRefusal(r.err, r.reason, r.status, cfg.RequiredScope)
		// Zero-valued series let rate() and alerts see the first refusal.
		v.failures.Add(context.Background(), 0, rf.attrs)
		v.refusals = append(v.refusals, rf)
	}
	return v, nil
}

// Verify checks an Authorization header value ("Bearer <jwt>") and returns
// the token's claims. A refusal matches ErrMissing, ErrInvalid (and
// ErrExpired when that is why) or ErrScope under errors.Is.
func (v *Verifier) Verify(authorization string) (Claims, error) {
	if len(authorization) > maxAuthorizationBytes {
		return nil, errTooLarge
	}
	authorization = strings.TrimSpace(authorization)
	if authorization == "" || strings.EqualFold(authorization, "Bearer") {
		return nil, ErrMissing
	}
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, fmt.Errorf("%w: want the Bearer scheme", errMalformed)
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return nil, ErrMissing
	}
	if strings.Count(tok, ".") != 2 {
		return nil, fmt.Errorf("%w: a JWT has three dot-separated parts", errMalformed)
	}

	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return v.keys, nil })
	if err != nil {
		return nil, v.classify(t, err)
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions listed in crit must be understood,
		// and we understand none.
		return nil, fmt.Errorf("%w: the crit header lists extensions this verifier does not implement", errMalformed)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, err
	}
	if v.cfg.RequiredScope != "" && !hasScope(Claims(claims).scopes(), v.cfg.RequiredScope) {
		return Claims(claims), fmt.Errorf("%w: %s", ErrScope, v.cfg.RequiredScope)
	}
	return Claims(claims), nil
}

// checkClaims holds a token to the one claim every issuer writes: whom it
// was issued to (sub, a non-empty string). A token of {} names no one and
// is refused, whoever holds the key; exp and iat stay optional, as the
// Python gateway's own tokens (PyJWT) have no exp and other libraries may omit
// iat. With a maximum age, iat is needed and judged.
func (v *Verifier) checkClaims(c jwt.MapClaims) error {
	if sub, _ := c["sub"].(string); strings.TrimSpace(sub) == "" {
		return fmt.Errorf("%w: the token names no subject (sub)", errClaims)
	}
	if v.cfg.MaxTokenAge <= 0 {
		return nil
	}
	iat, err := c.GetIssuedAt()
	if err != nil {
		return fmt.Errorf("%w: %w", errClaims, err)
	}
	if iat == nil {
		return fmt.Errorf("%w: the token has no iat, which %s needs", errClaims, envMaxTokenAge)
	}
	if age := v.now().Sub(iat.Time); age > v.cfg.MaxTokenAge+v.cfg.Leeway {
		return fmt.Errorf("%w: issued %s ago, more than %s=%s", ErrExpired, age.Round(time.Second), envMaxTokenAge, v.cfg.MaxTokenAge)
	}
	return nil
}

func hasScope(scopes []string, want string) bool {
	for _, s := range scopes {
		if s == want {
			return true
		}
	}
	return false
}

// classify maps the library's error to one reason. The order matters when a
// token has several faults: the algorithm is judged before the signature,
// and the signature before any claim.
func (v *Verifier) classify(t *jwt.Token, err error) error {
	switch {
	case t != nil && t.Method != nil && t.Method.Alg() != v.cfg.Algorithm:
		return fmt.Errorf("%w: token uses %q, only %s is accepted", errAlgorithm, t.Method.Alg(), v.cfg.Algorithm)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: %w", errAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %w", errMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: %w", errNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missingClaim(t, err, "aud"):
		return fmt.Errorf("%w: want %q", errAudience, v.cfg.Audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missingClaim(t, err, "iss"):
		return fmt.Errorf("%w: want %q", errIssuer, v.cfg.Issuer)
	}
	return fmt.Errorf("%w: %w", errClaims, err)
}

// missingClaim tells which required claim was absent; the library reports
// aud and iss alike.
func missingClaim(t *jwt.Token, err error, name string) bool {
	if t == nil || !errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		return false
	}
	c, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return false
	}
	_, present := c[name]
	return !present
}

type claimsKey struct{}

// ClaimsFromContext returns the claims the middleware verified for the
// request, if any.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Middleware lets a request through to next only with a valid token.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Header.Get would only see the first of several Authorization
		// headers; more than one is ambiguous and refused.
		values := r.Header.Values("Authorization")
		if len(values) > 1 {
			v.refuse(w, r, fmt.Errorf("%w: several Authorization headers", errMalformed))
			return
		}
		h := ""
		if len(values) == 1 {
			h = values[0]
		}
		claims, err := v.Verify(h)
		if err != nil {
			v.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

// refusalFor finds the answer for err; an error outside the known reasons
// (there should be none) is treated as invalid claims, never let through.
func (v *Verifier) refusalFor(err error) refusal {
	var fallback refusal
	for _, c := range v.refusals {
		if errors.Is(err, c.err) {
			return c
		}
		if c.err == errClaims {
			fallback = c
		}
	}
	return fallback
}

func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, err error) {
	rf := v.refusalFor(err)
	v.failures.Add(r.Context(), 1, rf.attrs)
	v.logger.LogAttrs(r.Context(), slog.LevelDebug, "metrics scrape refused",
		slog.String("reason", rf.reason), slog.String("remote", r.RemoteAddr))
	hdr := w.Header()
	hdr.Set("WWW-Authenticate", rf.challenge)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rf.status)
	_, _ = w.Write(rf.body)
}
