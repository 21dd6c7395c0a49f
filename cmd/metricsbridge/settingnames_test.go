package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// variableName is how every environment variable is spelled.
var variableName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// readNames returns the variables the loaders read for vars and for an
// empty environment: the names a user can set.
func readNames(t *testing.T, vars map[string]string) map[string]bool {
	t.Helper()
	read := map[string]bool{}
	_, _ = loadSettings(context.Background(), recordLookups(env.Map(vars), read))
	_, _ = loadSettings(context.Background(), recordLookups(env.Map(nil), read))
	return read
}

// check names every setting by the variable a user sets, the one that was
// used when a setting has two (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT over
// OTEL_EXPORTER_OTLP_ENDPOINT), and never by an internal key such as
// otlp.url.
func TestCheckNamesEveryVariableAsSet(t *testing.T) {
	pki := otlptest.NewPKI(t)
	for _, tc := range []struct {
		name      string
		vars      map[string]string
		want, not []string
	}{
		{"defaults", nil,
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318\n", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n",
				"OTEL_METRIC_EXPORT_INTERVAL=60000\n", "OTEL_EXPORTER_OTLP_TIMEOUT=10000\n", "OTEL_METRIC_EXPORT_TIMEOUT=30000\n",
				"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=explicit_bucket_histogram\n", "OTEL_EXPORTER_OTLP_CERTIFICATE=\n"},
			[]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="}},
		{"signal-specific variables", map[string]string{"OTEL_METRICS_EXPORTER": "otlp",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://otel.example.com/v1/metrics?api-key=s3cret",
			"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "2500",
			"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "api-key=s3cret", "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none",
			"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": pki.CA, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE": pki.ClientCert,
			"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": pki.ClientKey},
			[]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=https://otel.example.com/v1/metrics?api-key=xxxxx\n",
				"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf\n", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=2500\n",
				"OTEL_EXPORTER_OTLP_METRICS_HEADERS=Api-Key=(hidden, 6 bytes)\n", "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION=none\n",
				"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE=" + pki.CA + "\n", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE=" + pki.ClientCert + "\n",
				"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=" + pki.ClientKey + "\n"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_PROTOCOL=", "OTEL_EXPORTER_OTLP_CERTIFICATE=", "s3cret"}},
		{"general variables", map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_METRIC_EXPORT_INTERVAL": "15000"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317\n", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n", "OTEL_METRIC_EXPORT_INTERVAL=15000\n"},
			[]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="}},
		{"vendor preset", map[string]string{"METRICS_OTLP_VENDOR": "newrelic", "NEW_RELIC_LICENSE_KEY": "eu01xx-secret-license"},
			[]string{"METRICS_OTLP_VENDOR=newrelic\n", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=https://otlp.nr-data.net/v1/metrics\n",
				"OTEL_EXPORTER_OTLP_HEADERS=Api-Key=(hidden, 21 bytes)\n", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta\n"},
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=", "secret-license"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"AUTH_REQUIRED": "false"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), []string{"check"}, strings.NewReader(""), &stdout, &stderr, env.Map(vars)); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			known := readNames(t, vars)
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				name, _, ok := strings.Cut(line, "=")
				if !ok || strings.Contains(name, " ") {
					continue // a summary such as "route templates: ..."
				}
				if !variableName.MatchString(name) || !known[name] {
					t.Errorf("check prints %q, which is not a variable a user sets", line)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("check output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("check output has %q:\n%s", n, out)
				}
			}
		})
	}
}

// serve -h and check -h list every variable by its name, as check does
// for an empty environment.
func TestHelpNamesEveryVariable(t *testing.T) {
	known := readNames(t, nil)
	for _, cmd := range []string{"serve", "check"} {
		_, _, errOut := cli(t, nil, "", cmd, "-h")
		_, list, ok := strings.Cut(errOut, "environment variables, with their defaults")
		if !ok {
			t.Fatalf("%s -h lists no variables:\n%s", cmd, errOut)
		}
		n := 0
		for _, line := range strings.Split(list, "\n") {
			if !strings.HasPrefix(line, "    ") {
				continue
			}
			n++
			name := strings.Fields(line)[0]
			if !variableName.MatchString(name) || !known[name] {
				t.Errorf("%s -h lists %q, which is not a variable a user sets", cmd, name)
			}
		}
		if n < 40 {
			t.Errorf("%s -h lists %d variables:\n%s", cmd, n, list)
		}
	}
}
