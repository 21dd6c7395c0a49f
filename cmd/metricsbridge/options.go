package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
)

// Environment variables of serve and check beyond the metrics, auth and
// OTLP ones their packages read.
const (
	envUpstream          = "UPSTREAM_URL"
	envRoutes            = "METRICS_ROUTES"
	envOpenAPI           = "METRICS_OPENAPI"
	envOpenAPIRefresh    = "METRICS_OPENAPI_REFRESH"
	envMetricsAddr       = "METRICS_ADDR"
	envTLSCert           = "TLS_CERT_FILE"
	envTLSKey            = "TLS_KEY_FILE"
	envUpstreamTimeout   = "UPSTREAM_TIMEOUT"
	envReadHeaderTimeout = "READ_HEADER_TIMEOUT"
	envReadTimeout       = "READ_TIMEOUT"
	envWriteTimeout      = "WRITE_TIMEOUT"
	envIdleTimeout       = "IDLE_TIMEOUT"
	envMaxHeaderBytes    = "MAX_HEADER_BYTES"
	envShutdownTimeout   = "SHUTDOWN_TIMEOUT"
	envLogFormat         = "LOG_FORMAT"
	envLogLevel          = "LOG_LEVEL"
)

// option is a setting of serve and check that a flag or an environment
// variable may give; the flag wins.
type option struct {
	flag, env, usage string
}

var serveOptions = []option{
	{"host", "HOST", "listen address (default 127.0.0.1)"},
	{"port", "PORT", "listen port; 0 picks a free one (default 4444)"},
	{"upstream", envUpstream, "proxy every request to this http(s) URL, e.g. http://127.0.0.1:8080; without it the demo gateway runs"},
	{"routes", envRoutes, "comma-separated route templates in http.ServeMux syntax that become the handler label in proxy mode, e.g. 'POST /tools/invoke,GET /servers/{id}/sse'; other requests are handler=none"},
	{"openapi", envOpenAPI, "OpenAPI 3.x or Swagger 2.0 document (JSON or YAML) whose path templates become the handler label in proxy mode: a file, an http(s) URL, or a path on the upstream such as /openapi.json; --routes templates win over it"},
	{"openapi-refresh", envOpenAPIRefresh, "how often a document fetched over HTTP is re-read, as is any on SIGHUP; 0 turns the timer off (default 5m)"},
	{"metrics-addr", envMetricsAddr, "serve /metrics/prometheus, /health and /ready on this separate HOST:PORT instead of the main listener"},
	{"tls-cert", envTLSCert, "PEM certificate (chain) file; with --tls-key every listener serves HTTPS, re-reading both files on SIGHUP or when they change"},
	{"tls-key", envTLSKey, "PEM private key file for --tls-cert"},
	{"upstream-timeout", envUpstreamTimeout, "how long to wait for the upstream to connect and send its response header before answering 504 (default 60s)"},
	{"read-header-timeout", envReadHeaderTimeout, "time allowed to read a request's header (default 10s)"},
	{"read-timeout", envReadTimeout, "time allowed to read a whole request, body included (default 60s)"},
	{"write-timeout", envWriteTimeout, "time allowed to write a response; streaming responses (SSE, unknown length) are exempt (default 90s)"},
	{"idle-timeout", envIdleTimeout, "how long an idle keep-alive connection stays open (default 2m)"},
	{"max-header-bytes", envMaxHeaderBytes, "largest request header accepted; larger ones get 431 (default 65536)"},
	{"shutdown-timeout", envShutdownTimeout, "how long SIGTERM waits for in-flight requests before closing them, the last OTLP push included (default 10s)"},
	{"log-format", envLogFormat, "text or json (default text)"},
	{"log-level", envLogLevel, "debug, info, warn or error (default info)"},
}

// parseOptions parses the flags of serve or check and returns a Lookup in
// which the flags given override the environment, and a function that
// renames a bad value's variable to the flag that set it.
func parseOptions(name, summary string, args []string, stderr io.Writer, lookup env.Lookup) (env.Lookup, func(error) error, error) {
	fs := newFlagSet(name, stderr)
	for _, o := range serveOptions {
		fs.String(o.flag, "", o.usage+" [env "+o.env+"]")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: metricsbridge %s [flags]\n\n%s\nflags (each may also be set by the environment variable in brackets):\n", name, summary)
		fs.PrintDefaults()
		printEnvironmentHelp(fs.Output())
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "metricsbridge %s: unexpected argument %q\n", name, fs.Arg(0))
		fs.Usage()
		return nil, nil, errors.New("unexpected argument")
	}
	over, _, rename := flagsOverEnv(fs, serveOptions, lookup)
	return over, rename, nil
}

// flagsOverEnv is where a flag wins over its environment variable, for
// every subcommand: after fs.Parse it returns a Lookup in which the flags
// of opts given on the command line replace their variables, the map of
// those values by variable (a caller may adjust it; the Lookup reads it at
// each call), and a function that renames a bad value's variable to the
// flag that set it.
func flagsOverEnv(fs *flag.FlagSet, opts []option, lookup env.Lookup) (env.Lookup, map[string]string, func(error) error) {
	set := map[string]string{}
	flagOf := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		for _, o := range opts {
			if o.flag == f.Name {
				set[o.env] = f.Value.String()
				flagOf[o.env] = "--" + o.flag
			}
		}
	})
	over := func(k string) (string, bool) {
		if v, ok := set[k]; ok {
			return v, true
		}
		return lookup(k)
	}
	rename := func(err error) error {
		walkEnvErrors(err, func(e *env.Error) {
			if f, ok := flagOf[e.Var]; ok {
				e.Var = f
			}
		})
		return err
	}
	return over, set, rename
}

func walkEnvErrors(err error, f func(*env.Error)) {
	switch e := err.(type) {
	case *env.Error:
		f(e)
	case interface{ Unwrap() []error }:
		for _, err := range e.Unwrap() {
			walkEnvErrors(err, f)
		}
	case interface{ Unwrap() error }:
		walkEnvErrors(e.Unwrap(), f)
	}
}

// serverSettings are the listener, proxy, TLS and logging settings.
type serverSettings struct {
	upstream *url.URL // nil: the demo gateway runs
	routes   []string
	// openapi is the loaded --openapi document, nil without one.
	openapi        *openAPIRoutes
	openapiRefresh time.Duration
	// transport carries proxied requests; it is made early when the
	// OpenAPI document is fetched through it.
	transport   *http.Transport
	metricsAddr string // "" : the bridge's endpoints share the main listener
	tlsCert     string
	tlsKey      string

	upstreamTimeout   time.Duration
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	shutdownTimeout   time.Duration

	logJSON  bool
	logLevel slog.Level

	// warnings are about settings that work but deserve a look.
	warnings []string
}

// settings lists the server settings as check prints them; lookup gives
// the raw METRICS_OPENAPI, which may name a file, a URL or an upstream path.
func (s serverSettings) settings(lookup env.Lookup) []setting {
	upstream := ""
	if s.upstream != nil {
		upstream = s.upstream.String()
	}
	format := "text"
	if s.logJSON {
		format = "json"
	}
	return []setting{
		{envUpstream, upstream},
		{envRoutes, strings.Join(s.routes, ",")},
		{envOpenAPI, env.String(lookup, envOpenAPI, "")},
		{envOpenAPIRefresh, s.openapiRefresh.String()},
		{envMetricsAddr, s.metricsAddr},
		{envTLSCert, s.tlsCert},
		{envTLSKey, s.tlsKey},
		{envUpstreamTimeout, s.upstreamTimeout.String()},
		{envReadHeaderTimeout, s.readHeaderTimeout.String()},
		{envReadTimeout, s.readTimeout.String()},
		{envWriteTimeout, s.writeTimeout.String()},
		{envIdleTimeout, s.idleTimeout.String()},
		{envShutdownTimeout, s.shutdownTimeout.String()},
		{envMaxHeaderBytes, strconv.Itoa(s.maxHeaderBytes)},
		{envLogFormat, format},
		{envLogLevel, strings.ToLower(s.logLevel.String())},
	}
}

func (s serverSettings) tls() bool { return s.tlsCert != "" }

// loadServerSettings reads the server's settings; ctx cancels the load of
// an OpenAPI document.
func loadServerSettings(ctx context.Context, lookup env.Lookup) (serverSettings, error) {
	var s serverSettings
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error

	if raw := env.String(lookup, envUpstream, ""); raw != "" {
		s.upstream, err = parseUpstream(raw)
		add(err)
	}
	s.routes, err = env.List(lookup, envRoutes)
	add(err)
	if err == nil && len(s.routes) > 0 {
		if _, err := routes.New(s.routes); err != nil {
			add(env.Errorf(envRoutes, env.String(lookup, envRoutes, ""), "%v", err))
		} else if s.upstream == nil {
			add(env.Errorf(envRoutes, env.String(lookup, envRoutes, ""), "route templates label proxied requests; set %s (--upstream) too", envUpstream))
		}
	}
	if raw := env.String(lookup, envMetricsAddr, ""); raw != "" {
		host, port, err := net.SplitHostPort(raw)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			add(env.Errorf(envMetricsAddr, raw, "want HOST:PORT, such as 127.0.0.1:9464 or :9464"))
		} else {
			s.metricsAddr = net.JoinHostPort(host, port)
		}
	}
	s.tlsCert = env.String(lookup, envTLSCert, "")
	s.tlsKey = env.String(lookup, envTLSKey, "")
	switch {
	case s.tlsCert == "" && s.tlsKey == "":
	case s.tlsCert == "":
		add(env.Errorf(envTLSCert, "", "%s is set, so the certificate file is needed too", envTLSKey))
	case s.tlsKey == "":
		add(env.Errorf(envTLSKey, "", "%s is set, so the private key file is needed too", envTLSCert))
	default:
		if _, warning, err := loadKeyPair(s.tlsCert, s.tlsKey); err != nil {
			add(env.Errorf(envTLSCert, s.tlsCert, "cannot load it with %s=%s: %v", envTLSKey, s.tlsKey, err))
		} else if warning != "" {
			s.warnings = append(s.warnings, envTLSKey+"="+s.tlsKey+": "+warning)
		}
	}

	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
		lo   time.Duration
	}{
		{envUpstreamTimeout, &s.upstreamTimeout, 60 * time.Second, time.Millisecond},
		{envReadHeaderTimeout, &s.readHeaderTimeout, 10 * time.Second, time.Millisecond},
		{envReadTimeout, &s.readTimeout, 60 * time.Second, time.Millisecond},
		{envWriteTimeout, &s.writeTimeout, 90 * time.Second, time.Millisecond},
		{envIdleTimeout, &s.idleTimeout, 2 * time.Minute, time.Millisecond},
		{envShutdownTimeout, &s.shutdownTimeout, 10 * time.Second, 0},
	}
	for _, d := range durations {
		*d.dst, err = env.Duration(lookup, d.name, d.def, d.lo, 24*time.Hour)
		add(err)
	}
	s.maxHeaderBytes, err = env.Int(lookup, envMaxHeaderBytes, 64<<10, 1<<10, 16<<20)
	add(err)
	add(loadOpenAPISetting(ctx, &s, lookup, errors.Join(errs...) == nil))

	switch f := strings.ToLower(env.String(lookup, envLogFormat, "text")); f {
	case "text":
	case "json":
		s.logJSON = true
	default:
		add(env.Errorf(envLogFormat, f, "want text or json"))
	}
	lvl := env.String(lookup, envLogLevel, "info")
	if err := s.logLevel.UnmarshalText([]byte(lvl)); err != nil {
		add(env.Errorf(envLogLevel, lvl, "want debug, info, warn or error"))
	}
	return s, errors.Join(errs...)
}

func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, env.Errorf(envUpstream, raw, "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, env.Errorf(envUpstream, raw, "want an http:// or https:// URL, such as http://127.0.0.1:8080")
	case u.Host == "":
		return nil, env.Errorf(envUpstream, raw, "the URL has no host")
	case u.User != nil:
		// The URL is printed at start; credentials belong in the upstream's
		// own configuration, not in a proxy's log.
		return nil, env.Errorf(envUpstream, u.Redacted(), "credentials in the URL are not supported")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, env.Errorf(envUpstream, raw, "the URL may carry a path prefix but no query or fragment")
	}
	return u, nil
}

func newLogger(w io.Writer, s serverSettings) *slog.Logger {
	opts := &slog.HandlerOptions{Level: s.logLevel}
	if s.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
