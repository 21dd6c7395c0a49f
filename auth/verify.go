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

// MaxAuthorizationBytes bounds the Authorization header. Real scrape tokens
// are a few hundred bytes; anything near this is an attack or a mistake and
// is refused before any decoding.
const MaxAuthorizationBytes = 8 << 10

// Realm names the protection space in WWW-Authenticate challenges.
const Realm = "metrics"

// ScopeName is the instrumentation scope of the failure counter.
const ScopeName = "github.com/metricsbridge/metricsbridge/auth"

// Reasons a token is refused. Verify wraps exactly one of them, so callers
// can branch with errors.Is; the middleware counts them by Reason.
var (
	ErrMissing     = errors.New("no bearer token")
	ErrTooLarge    = errors.New("authorization header too large")
	ErrMalformed   = errors.New("malformed token")
	ErrAlgorithm   = errors.New("signing algorithm not accepted")
	ErrSignature   = errors.New("signature does not verify")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not valid yet")
	ErrAudience    = errors.New("wrong audience")
	ErrIssuer      = errors.New("wrong issuer")
	ErrClaims      = errors.New("invalid claims")
	ErrScope       = errors.New("required scope missing")
)

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
	challenge := `Bearer realm="` + Realm + `"`
	switch {
	case err == ErrMissing:
		// RFC 6750 §3.1: no error code when the request had no credentials.
		code = ""
	case err == ErrTooLarge:
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

// Claims are a verified token's payload.
type Claims map[string]any

// Subject returns the sub claim, the user the token was minted for.
func (c Claims) Subject() string { s, _ := c["sub"].(string); return s }

// Scopes returns the space-separated "scope" claim (RFC 8693), or the
// "scope"/"scp" array some issuers write instead.
func (c Claims) Scopes() []string {
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

// WithMeterProvider sets where the failure counter is recorded. Without it
// failures are not counted.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o options) options { o.mp = mp; return o })
}

// WithLogger sets the logger for refusals, which are logged at debug level
// with their reason and never with the token.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options { o.logger = l; return o })
}

// WithClock replaces time.Now when checking exp, nbf and iat.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o options) options { o.now = now; return o })
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

// NewVerifier returns a Verifier for cfg, which must pass Validate.
func NewVerifier(cfg Config, opts ...Option) (*Verifier, error) {
	o := options{mp: noop.NewMeterProvider(), logger: slog.Default(), now: time.Now}
	for _, opt := range opts {
		o = opt.apply(o)
	}
	if err := cfg.Validate(); err != nil {
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
	v.failures, err = o.mp.Meter(ScopeName).Int64Counter(mbsemconv.InstrumentAuthFailures,
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
		{ErrTooLarge, "too_large", http.StatusUnauthorized},
		{ErrMalformed, "malformed", http.StatusUnauthorized},
		{ErrAlgorithm, "algorithm", http.StatusUnauthorized},
		{ErrSignature, "signature", http.StatusUnauthorized},
		{ErrExpired, "expired", http.StatusUnauthorized},
		{ErrNotYetValid, "not_yet_valid", http.StatusUnauthorized},
		{ErrAudience, "audience", http.StatusUnauthorized},
		{ErrIssuer, "issuer", http.StatusUnauthorized},
		{ErrClaims, "claims", http.StatusUnauthorized},
		{ErrScope, "scope", http.StatusForbidden},
	} {
		rf := newRefusal(r.err, r.reason, r.status, cfg.RequiredScope)
		// Zero-valued series let rate() and alerts see the first refusal.
		v.failures.Add(context.Background(), 0, rf.attrs)
		v.refusals = append(v.refusals, rf)
	}
	return v, nil
}

// Config returns the policy the Verifier enforces.
func (v *Verifier) Config() Config { return v.cfg }

// Verify checks an Authorization header value ("Bearer <jwt>") and returns
// the token's claims. A refusal wraps one of the Err* reasons above.
func (v *Verifier) Verify(authorization string) (Claims, error) {
	if len(authorization) > MaxAuthorizationBytes {
		return nil, ErrTooLarge
	}
	authorization = strings.TrimSpace(authorization)
	if authorization == "" || strings.EqualFold(authorization, "Bearer") {
		return nil, ErrMissing
	}
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, fmt.Errorf("%w: want the Bearer scheme", ErrMalformed)
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return nil, ErrMissing
	}
	if strings.Count(tok, ".") != 2 {
		return nil, fmt.Errorf("%w: a JWT has three dot-separated parts", ErrMalformed)
	}

	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return v.keys, nil })
	if err != nil {
		return nil, v.classify(t, err)
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions listed in crit must be understood,
		// and we understand none.
		return nil, fmt.Errorf("%w: the crit header lists extensions this verifier does not implement", ErrMalformed)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, err
	}
	if v.cfg.RequiredScope != "" && !hasScope(Claims(claims).Scopes(), v.cfg.RequiredScope) {
		return Claims(claims), fmt.Errorf("%w: %s", ErrScope, v.cfg.RequiredScope)
	}
	return Claims(claims), nil
}

// checkClaims holds a token to the one claim every issuer writes: whom it
// was issued to (sub, a non-empty string). A token of {} names no one and
// is refused, whoever holds the key; exp and iat stay optional, as the
// reference gateway's own tokens have no exp and other libraries may omit
// iat. With a maximum age, iat is needed and judged.
func (v *Verifier) checkClaims(c jwt.MapClaims) error {
	if sub, _ := c["sub"].(string); strings.TrimSpace(sub) == "" {
		return fmt.Errorf("%w: the token names no subject (sub)", ErrClaims)
	}
	if v.cfg.MaxTokenAge <= 0 {
		return nil
	}
	iat, err := c.GetIssuedAt()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if iat == nil {
		return fmt.Errorf("%w: the token has no iat, which %s needs", ErrClaims, EnvMaxTokenAge)
	}
	if age := v.now().Sub(iat.Time); age > v.cfg.MaxTokenAge+v.cfg.Leeway {
		return fmt.Errorf("%w: issued %s ago, more than %s=%s", ErrExpired, age.Round(time.Second), EnvMaxTokenAge, v.cfg.MaxTokenAge)
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
		return fmt.Errorf("%w: token uses %q, only %s is accepted", ErrAlgorithm, t.Method.Alg(), v.cfg.Algorithm)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: %w", ErrAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: %w", ErrNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missingClaim(t, err, "aud"):
		return fmt.Errorf("%w: want %q", ErrAudience, v.cfg.Audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missingClaim(t, err, "iss"):
		return fmt.Errorf("%w: want %q", ErrIssuer, v.cfg.Issuer)
	}
	return fmt.Errorf("%w: %w", ErrClaims, err)
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
			v.refuse(w, r, fmt.Errorf("%w: several Authorization headers", ErrMalformed))
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
		if c.err == ErrClaims {
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
