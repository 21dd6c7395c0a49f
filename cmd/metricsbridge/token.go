package main

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/jwtkeys"
)

const tokenUsage = `usage:
  metricsbridge token create --username U [--exp MINUTES|DURATION] [--secret-file FILE | --private-key FILE] [--algo ALG]
                             [--aud A] [--iss I] [--scope S] [--data '{"k":"v"}']
  metricsbridge token verify [--token-file FILE] [--secret-file FILE | --public-key FILE] [--algo ALG]

create prints the token alone on stdout; --exp 0 (the default) mints a token
that never expires, --exp 60 or --exp 1h one that expires in an hour. Every token carries sub, iat and a random jti, plus aud
and iss when given or configured. verify reads the token from --token-file
or else stdin, checks it exactly as serve would, prints its claims as JSON
and exits 0, or prints why it is refused and exits 1. Defaults come from
JWT_SECRET_KEY or JWT_SECRET_KEY_FILE, JWT_ALGORITHM, JWT_PUBLIC_KEY_PATH,
JWT_AUDIENCE, JWT_ISSUER, JWT_MAX_TOKEN_AGE and METRICS_REQUIRED_SCOPE.

Keep secrets and tokens off the command line, where ps and shell history
see them: the environment or a file, not --secret or --token.
`

func token(args []string, stdin io.Reader, stdout, stderr io.Writer, lookup env.Lookup) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return exitConfig
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, tokenUsage)
		return exitOK
	case "create":
		return tokenCreate(args[1:], stdout, stderr, lookup)
	case "verify":
		return tokenVerify(args[1:], stdin, stdout, stderr, lookup)
	}
	fmt.Fprintf(stderr, "metricsbridge token: unknown command %q\n%s", args[0], tokenUsage)
	return exitConfig
}

// tokenCreate prints the token alone on stdout so $(...) captures it.
func tokenCreate(args []string, stdout, stderr io.Writer, lookup env.Lookup) int {
	fs := newFlagSet("token create", stderr)
	setUsage(fs, "token create", tokenCreateSummary)
	username := fs.String("username", "", "subject of the token, `USER`, e.g. prometheus@monitoring (required)")
	var exp expiry
	fs.Var(&exp, "exp", "time until expiry, `MINUTES|DURATION`: a bare number is minutes (60), anything else a Go duration (1h, 90m); 0 means the token never expires (no exp claim) (default 0)")
	// The secret's default is read after parsing so -h never prints it.
	secret := fs.String("secret", "", "HMAC `secret` for HS*; visible to ps and shell history, prefer --secret-file or env JWT_SECRET_KEY")
	secretFile := fs.String("secret-file", "", "`FILE` holding the HMAC secret for HS* (one trailing line break is dropped; env JWT_SECRET_KEY_FILE)")
	privateKey := fs.String("private-key", "", "PEM private key `FILE` for RS*, ES* and EdDSA; the algorithm follows from the key unless --algo is given")
	algo := fs.String("algo", env.String(lookup, jwtkeys.EnvAlgorithm, ""), "signing algorithm `ALG`: "+jwtkeys.AlgorithmList()+" (env JWT_ALGORITHM; default HS256)")
	aud := fs.String("aud", env.String(lookup, jwtkeys.EnvAudience, ""), "`aud` claim (env JWT_AUDIENCE)")
	iss := fs.String("iss", env.String(lookup, jwtkeys.EnvIssuer, ""), "`iss` claim (env JWT_ISSUER)")
	scope := fs.String("scope", env.String(lookup, jwtkeys.EnvRequiredScope, ""), "`scope` claim, space-separated (env METRICS_REQUIRED_SCOPE)")
	data := fs.String("data", "", "extra claims as a `JSON` object, e.g. '{\"team\":\"sre\"}'")
	if err := fs.Parse(args); err != nil {
		return exitCodeOf(err)
	}
	if *username == "" {
		fmt.Fprintln(stderr, "metricsbridge token create: --username is required")
		return exitConfig
	}
	opts := auth.MintOptions{
		Username: *username, Expiry: time.Duration(exp), Algorithm: *algo,
		Audience: *aud, Issuer: *iss, Scope: *scope,
	}
	if *data != "" {
		if err := json.Unmarshal([]byte(*data), &opts.Extra); err != nil || opts.Extra == nil {
			fmt.Fprintf(stderr, "metricsbridge token create: --data %q is not a JSON object\n", *data)
			return exitConfig
		}
	}
	if *privateKey != "" {
		pem, warning, err := credfile.Read(*privateKey, credfile.MaxPEMBytes)
		if err != nil {
			fmt.Fprintf(stderr, "metricsbridge token create: --private-key %s: %v\n", *privateKey, err)
			return exitConfig
		}
		if warning != "" {
			fmt.Fprintf(stderr, "warning: --private-key %s: %s\n", *privateKey, warning)
		}
		if opts.PrivateKey, err = jwtkeys.ParsePrivateKeyPEM(pem); err != nil {
			fmt.Fprintf(stderr, "metricsbridge token create: --private-key %s: %v\n", *privateKey, err)
			return exitConfig
		}
		if opts.Algorithm == "" {
			opts.Algorithm = algorithmFor(opts.PrivateKey.Public())
		}
	} else {
		s, err := mintSecret(*secret, *secretFile, lookup, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "metricsbridge token create: %v\n", err)
			return exitConfig
		}
		if alg := cmp.Or(*algo, jwtkeys.DefaultAlgorithm); s == "" && jwtkeys.IsHMAC(strings.ToUpper(alg)) {
			fmt.Fprintf(stderr, "metricsbridge token create: %s signs with a secret and none is set: set %s or %s, or give --secret-file (or --private-key and --algo for RS*, ES* or EdDSA)\n",
				alg, jwtkeys.EnvSecret, jwtkeys.EnvSecretFile)
			return exitConfig
		}
		opts.Secret = []byte(s)
		if opts.AllowWeakSecret, err = env.Bool(lookup, jwtkeys.EnvAllowWeakSecret, false); err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
	}
	tok, err := auth.Mint(opts)
	if err != nil {
		fmt.Fprintf(stderr, "metricsbridge token create: %v\n", err)
		return exitConfig
	}
	fmt.Fprintln(stdout, tok)
	return exitOK
}

// mintSecret picks the HMAC secret as serve would read it (not trimmed,
// so the keys agree): the flags first, then JWT_SECRET_KEY_FILE or
// JWT_SECRET_KEY. A secret file the group or others may read is warned
// about on stderr.
func mintSecret(flagSecret, flagFile string, lookup env.Lookup, stderr io.Writer) (string, error) {
	switch {
	case flagSecret != "" && flagFile != "":
		return "", errors.New("--secret and --secret-file: give one of them")
	case flagSecret != "":
		return flagSecret, nil
	case flagFile != "":
		s, _, err := jwtkeys.ReadSecretFile(flagFile)
		if err != nil {
			return "", fmt.Errorf("--secret-file %s: %w", flagFile, err)
		}
		warnLoose(stderr, "--secret-file "+flagFile, flagFile)
		return s, nil
	}
	if path := env.String(lookup, jwtkeys.EnvSecretFile, ""); path != "" {
		if v, _ := lookup(jwtkeys.EnvSecret); strings.TrimSpace(v) != "" {
			return "", fmt.Errorf("%s and %s are both set; set one of them", jwtkeys.EnvSecret, jwtkeys.EnvSecretFile)
		}
		s, _, err := jwtkeys.ReadSecretFile(path)
		if err != nil {
			return "", env.Errorf(jwtkeys.EnvSecretFile, path, "%v", err)
		}
		warnLoose(stderr, jwtkeys.EnvSecretFile+"="+path, path)
		return s, nil
	}
	s, _ := lookup(jwtkeys.EnvSecret)
	return s, nil
}

// algorithmFor picks the usual algorithm for a key: RS256 for RSA, the
// ES* that matches an ECDSA curve, EdDSA for Ed25519.
func algorithmFor(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return "ES384"
		}
		return "ES256"
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// tokenVerify checks a token with the same JWT_* settings serve uses.
func tokenVerify(args []string, stdin io.Reader, stdout, stderr io.Writer, lookup env.Lookup) int {
	fs := newFlagSet("token verify", stderr)
	setUsage(fs, "token verify", tokenVerifySummary)
	tok := fs.String("token", "", "the `token`; visible to ps and shell history, prefer --token-file or stdin")
	tokenFile := fs.String("token-file", "", "`FILE` holding the token; without it and --token, the token is read from stdin")
	opts := []option{
		{"secret", jwtkeys.EnvSecret, "HMAC `secret` for HS*; visible to ps and shell history, prefer --secret-file"},
		{"secret-file", jwtkeys.EnvSecretFile, "`FILE` holding the HMAC secret for HS*"},
		{"public-key", jwtkeys.EnvPublicKeyPath, "PEM public key `FILE` for RS*, ES* and EdDSA"},
		{"algo", jwtkeys.EnvAlgorithm, "the one accepted algorithm `ALG`: " + jwtkeys.AlgorithmList() + " (default HS256)"},
		{"aud", jwtkeys.EnvAudience, "required aud `claim`"},
		{"iss", jwtkeys.EnvIssuer, "required iss `claim`"},
		{"scope", jwtkeys.EnvRequiredScope, "required `scope`"},
		{"max-token-age", jwtkeys.EnvMaxTokenAge, "refuse tokens issued longer ago than this `duration`, e.g. 720h"},
	}
	for _, o := range opts {
		fs.String(o.flag, "", o.usage+" [env "+o.env+"]")
	}
	if err := fs.Parse(args); err != nil {
		return exitCodeOf(err)
	}
	lookup, overrides, _ := flagsOverEnv(fs, opts, lookup)
	// A secret from a flag replaces the environment's, whichever form
	// either takes.
	if _, ok := overrides[jwtkeys.EnvSecret]; ok {
		if _, both := overrides[jwtkeys.EnvSecretFile]; both {
			fmt.Fprintln(stderr, "metricsbridge token verify: --secret and --secret-file: give one of them")
			return exitConfig
		}
		overrides[jwtkeys.EnvSecretFile] = ""
	} else if _, ok := overrides[jwtkeys.EnvSecretFile]; ok {
		overrides[jwtkeys.EnvSecret] = ""
	}
	var src io.Reader
	switch {
	case *tok != "" && *tokenFile != "":
		fmt.Fprintln(stderr, "metricsbridge token verify: --token and --token-file: give one of them")
		return exitConfig
	case *tokenFile != "":
		b, warning, err := credfile.Read(*tokenFile, credfile.MaxSecretBytes)
		if err != nil {
			fmt.Fprintf(stderr, "metricsbridge token verify: --token-file %s: %v\n", *tokenFile, err)
			return exitConfig
		}
		if warning != "" {
			fmt.Fprintf(stderr, "warning: --token-file %s: %s\n", *tokenFile, warning)
		}
		*tok = strings.TrimSpace(string(b))
	case *tok == "" && *tokenFile == "":
		src = stdin
	}
	if src != nil {
		b, err := io.ReadAll(io.LimitReader(src, 64<<10))
		if err != nil {
			fmt.Fprintf(stderr, "metricsbridge token verify: reading the token: %v\n", err)
			return exitFail
		}
		*tok = strings.TrimSpace(string(b))
	}
	cfg, err := auth.ConfigFromEnv(lookup)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	for _, w := range authWarnings(cfg, lookup) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if !hasKey(cfg) {
		fmt.Fprintf(stderr, "metricsbridge token verify: no key: set %s or %s, or --secret-file (HS*), or --public-key or %s with --algo\n", jwtkeys.EnvSecret, jwtkeys.EnvSecretFile, jwtkeys.EnvPublicKeyPath)
		return exitConfig
	}
	v, err := auth.NewVerifier(cfg, auth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	claims, err := v.Verify("Bearer " + *tok)
	if err != nil {
		fmt.Fprintf(stderr, "token is not valid: %v\n", err)
		return exitFail
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(claims); err != nil {
		return exitFail
	}
	return exitOK
}

const tokenCreateSummary = `Prints a signed token alone on stdout, so that $(...) or "> file" captures
it. Every token carries sub, iat and a random jti, plus aud and iss when
given or configured. The key comes from the flags, else from
JWT_SECRET_KEY_FILE or JWT_SECRET_KEY (HS*).
`

const tokenVerifySummary = `Reads the token from --token-file, --token or else stdin, checks it exactly
as serve would with the JWT_* settings (each flag overrides its variable),
prints its claims as JSON and exits 0, or prints why it is refused and
exits 1.
`

// setUsage gives a token subcommand the help layout of serve and check.
func setUsage(fs *flag.FlagSet, name, summary string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: metricsbridge %s [flags]\n\n%s\nflags:\n", name, summary)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nKeep secrets and tokens off the command line, where ps and shell history\nsee them: the environment or a file, not --secret or --token.\n")
	}
}

// expiry is --exp: a bare number is minutes, as in the Python gateway's
// token tool; anything else a Go duration such as 1h or 90m.
type expiry time.Duration

func (e *expiry) String() string { return time.Duration(*e).String() }

func (e *expiry) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return errors.New("want minutes ≥ 0 (0 = never expires)")
		}
		if n > maxExpMinutes {
			return fmt.Errorf("want at most %d minutes (ten years)", maxExpMinutes)
		}
		*e = expiry(time.Duration(n) * time.Minute)
		return nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want minutes (60) or a duration (1h, 90m)")
	case d < 0:
		return errors.New("want a duration ≥ 0 (0 = never expires)")
	case d > maxExpMinutes*time.Minute:
		return fmt.Errorf("want at most %s (ten years)", time.Duration(maxExpMinutes)*time.Minute)
	}
	*e = expiry(d)
	return nil
}

// maxExpMinutes bounds --exp at ten years, far below where a duration
// overflows.
const maxExpMinutes = 10 * 365 * 24 * 60

// warnLoose prints a warning when the group or others may read path.
func warnLoose(stderr io.Writer, what, path string) {
	if w := credfile.PermissionWarning(path); w != "" {
		fmt.Fprintf(stderr, "warning: %s: %s\n", what, w)
	}
}
