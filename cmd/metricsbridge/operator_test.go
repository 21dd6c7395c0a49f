package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/logbuf"
)

// checkLine is what every line of check's output must look like: a name,
// "=", and a value that is either free of quotes and control characters or
// one Go-quoted string.
var checkLine = regexp.MustCompile(`^[A-Za-z_.]+=([^"\\\p{Cc}]*|"([^"\\]|\\.)*")$|^route templates: `)

// A value with a line break (or any control character) cannot add lines
// to check's output: it is printed quoted.
func TestCheckEscapesValues(t *testing.T) {
	code, out, errOut := cli(t, map[string]string{
		"METRICS_CUSTOM_LABELS": "env=prod\nAUTH_REQUIRED=false",
		"METRICS_SUBSYSTEM":     "api",
		"JWT_AUDIENCE":          "a\x1b[2Jb",
		"JWT_ISSUER":            ` "quoted" `,
	}, "", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`METRICS_CUSTOM_LABELS="env=prod\nAUTH_REQUIRED=false"` + "\n",
		"\nAUTH_REQUIRED=true\n",
		`JWT_AUDIENCE="a\x1b[2Jb"` + "\n",
		`JWT_ISSUER="\"quoted\""` + "\n", // trimmed as it is read
		"METRICS_SUBSYSTEM=api\n",        // plain values stay as they were
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "AUTH_REQUIRED=") != 2 {
		t.Errorf("want AUTH_REQUIRED=true and the quoted label only:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !checkLine.MatchString(line) {
			t.Errorf("line %q is not NAME=value", line)
		}
	}
}

// Names with our prefixes that nothing reads are warned about, with the
// nearest known name; known names, including the OTLP exporter variables
// of the specification that this program does not use, are not.
func TestUnknownVariablesWarn(t *testing.T) {
	vars := map[string]string{
		"METRICS_BUCKETS":                    "0.5,0.1",
		"JWT_SECRET":                         testSecret,
		"OTEL_EXPORTER_OTLP_ENDPIONT":        "http://127.0.0.1:4318",
		"METRICS_ZZZZZZZZZZZZZZZZZZZZZZ":     "x",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318", // the spec's, for another signal
		"OTEL_SERVICE_NAME":                  "shop",                  // not a checked prefix
		"METRICS_LATENCY_BUCKETS":            "0.1,0.5",
		"UNRELATED":                          "1",
	}
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	want := []string{
		"warning: JWT_SECRET is set but metricsbridge does not read it; did you mean JWT_SECRET_KEY?\n",
		"warning: METRICS_BUCKETS is set but metricsbridge does not read it; did you mean METRICS_LATENCY_BUCKETS?\n",
		"warning: METRICS_ZZZZZZZZZZZZZZZZZZZZZZ is set but metricsbridge does not read it\n",
		"warning: OTEL_EXPORTER_OTLP_ENDPIONT is set but metricsbridge does not read it; did you mean OTEL_EXPORTER_OTLP_ENDPOINT?\n",
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"check"}, strings.NewReader(""), &stdout, &stderr, env.Map(vars), environ...); code != 0 {
		t.Fatalf("check: exit %d: %s", code, &stderr)
	}
	if got := stderr.String(); got != strings.Join(want, "") {
		t.Errorf("check stderr:\n%s\nwant:\n%s", got, strings.Join(want, ""))
	}

	// A bad value still stops the start; the hint comes first.
	vars["ENABLE_METRICS"] = "true"
	environ = append(environ, "ENABLE_METRICS=true")
	stderr.Reset()
	if code := run(t.Context(), []string{"check"}, strings.NewReader(""), io.Discard, &stderr, env.Map(vars), environ...); code != exitConfig ||
		!strings.Contains(stderr.String(), want[0]) || !strings.Contains(stderr.String(), `invalid ENABLE_METRICS="true"`) {
		t.Errorf("check with no key: exit %d:\n%s", code, &stderr)
	}

	// serve logs each once.
	delete(vars, "ENABLE_METRICS")
	vars["PORT"] = "0"
	b := startBridgeEnviron(t, vars)
	b.stop(t)
	for _, name := range []string{"JWT_SECRET", "METRICS_BUCKETS", "OTEL_EXPORTER_OTLP_ENDPIONT"} {
		if n := strings.Count(b.stderr.String(), "warning=\""+name+" is set but metricsbridge does not read it"); n != 1 {
			t.Errorf("serve logged %s %d times:\n%s", name, n, b.stderr)
		}
	}
}

func TestNearestName(t *testing.T) {
	known := []string{"METRICS_LATENCY_BUCKETS", "METRICS_ROUTES", "JWT_SECRET_KEY", "JWT_SECRET_KEY_FILE", "METRICS_NAMESPACE"}
	for _, tc := range []struct{ name, want string }{
		{"METRICS_BUCKETS", "METRICS_LATENCY_BUCKETS"},
		{"METRICS_ROUTE", "METRICS_ROUTES"},
		{"JWT_SECRET", "JWT_SECRET_KEY"},
		{"JWT_SECRETKEY", "JWT_SECRET_KEY"},
		{"METRICS_NAMESPCAE", "METRICS_NAMESPACE"},
		{"METRICS_QQQQQQQQQQQQQQQQQ", ""},
		{strings.Repeat("METRICS_", 100), ""},
	} {
		if got := nearestName(tc.name, known); got != tc.want {
			t.Errorf("nearestName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// serve -h and check -h list the environment variables, grouped, with
// their defaults; the token commands use the same layout, every flag with
// a named argument.
func TestHelpListsEnvironment(t *testing.T) {
	for _, cmd := range []string{"serve", "check"} {
		code, _, errOut := cli(t, nil, "", cmd, "-h")
		if code != 0 {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		for _, want := range []string{
			"usage: metricsbridge " + cmd + " [flags]", "\n  metrics:\n", "\n  scrape tokens:\n", "\n  OTLP push:\n", "\n  server and proxy (each also a flag):\n",
			"    ENABLE_METRICS  ", " false\n",
			"    METRICS_LATENCY_BUCKETS ", " 0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10\n",
			"    JWT_SECRET_KEY_FILE ", "    OTEL_EXPORTER_OTLP_ENDPOINT ", "    SHUTDOWN_TIMEOUT ",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, want, errOut)
			}
		}
		if strings.Contains(errOut, "See README.md.") {
			t.Errorf("%s -h still sends the reader to README for the variables", cmd)
		}
	}
	for _, cmd := range []string{"create", "verify"} {
		code, _, errOut := cli(t, nil, "", "token", cmd, "-h")
		if code != 0 || !strings.HasPrefix(errOut, "usage: metricsbridge token "+cmd+" [flags]\n") || strings.Contains(errOut, "Usage of") {
			t.Errorf("token %s -h: exit %d:\n%s", cmd, code, errOut)
		}
		for _, line := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(line, "  -") && strings.HasSuffix(line, " value") {
				t.Errorf("token %s -h: flag shown as value: %q", cmd, line)
			}
		}
	}
}

// --exp takes a bare number as minutes, as before, or a Go duration.
func TestTokenExpDurations(t *testing.T) {
	vars := map[string]string{"JWT_SECRET_KEY": testSecret}
	for _, tc := range []struct {
		exp  string
		want int64 // exp - iat in seconds; 0: no exp claim
	}{
		{"0", 0}, {"5", 300}, {"1h", 3600}, {"90m", 5400}, {"1h30m", 5400}, {"0s", 0},
	} {
		tok := createToken(t, vars, "--username", "u", "--exp", tc.exp)
		_, out, _ := cli(t, vars, "", "token", "verify", "--token", tok)
		var claims struct{ Exp, Iat int64 }
		if err := json.Unmarshal([]byte(out), &claims); err != nil {
			t.Fatal(err)
		}
		if got := claims.Exp - claims.Iat; (tc.want == 0 && claims.Exp != 0) || (tc.want != 0 && got != tc.want) {
			t.Errorf("--exp %s: exp %d, iat %d; want exp-iat %d", tc.exp, claims.Exp, claims.Iat, tc.want)
		}
	}
	for _, bad := range []string{"-5m", "soon", "1y", "87601h"} {
		code, _, errOut := cli(t, vars, "", "token", "create", "--username", "u", "--exp", bad)
		if code != exitConfig || !strings.Contains(errOut, `invalid value "`+bad+`" for flag -exp`) {
			t.Errorf("--exp %s: exit %d %s", bad, code, errOut)
		}
	}
}

// Errors name what to set.
func TestErrorsNameWhatToSet(t *testing.T) {
	up := newTestUpstream(t, nil)
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want []string
	}{
		{"metrics on, no key", map[string]string{"ENABLE_METRICS": "true"}, []string{"check"},
			[]string{`invalid ENABLE_METRICS="true"`, "JWT_SECRET_KEY or JWT_SECRET_KEY_FILE", "JWT_PUBLIC_KEY_PATH with JWT_ALGORITHM", "AUTH_REQUIRED=false", "AUTH_REQUIRED defaults to true"}},
		{"metrics on, AUTH_REQUIRED=true, no key", map[string]string{"ENABLE_METRICS": "true", "AUTH_REQUIRED": "true"}, []string{"check"},
			[]string{`invalid ENABLE_METRICS="true": scrapes need a bearer token (AUTH_REQUIRED=true)`}},
		{"token create without a secret", nil, []string{"token", "create", "--username", "u"},
			[]string{"HS256 signs with a secret and none is set: set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE, or give --secret-file"}},
		{"token create HS512 without a secret", nil, []string{"token", "create", "--username", "u", "--algo", "hs512"},
			[]string{"hs512 signs with a secret and none is set: set JWT_SECRET_KEY"}},
		{"openapi file missing", map[string]string{"UPSTREAM_URL": up.URL}, []string{"check", "--openapi", "/nope.json"},
			[]string{`invalid --openapi="/nope.json"`, "GET " + up.URL + "/nope.json: 404 Not Found",
				"before that, as a file: stat /nope.json: no such file or directory (write file:/nope.json to mean the file only)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.vars, "", tc.args...)
			if code != exitConfig {
				t.Errorf("exit %d, want 2", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if _, err := http.Get(up.URL + "/nope.json"); err != nil {
		t.Fatal(err)
	}
}

// startBridgeEnviron is startBridge with vars also given as the process
// environment, which serve lists to find unknown names.
func startBridgeEnviron(t *testing.T, vars map[string]string) *bridge {
	t.Helper()
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bridge{stderr: &logbuf.Buffer{}, cancel: cancel, exit: make(chan int, 1)}
	go func() {
		b.exit <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, b.stderr, env.Map(vars), environ...)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.stderr.String(), "metricsbridge serving") {
		if time.Now().After(deadline) {
			b.stop(t)
			t.Fatalf("no start-up line:\n%s", b.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}
