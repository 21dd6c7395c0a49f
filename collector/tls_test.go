package collector_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// The standard certificate variables work over both protocols against the
// real Collector listening with TLS, and with mTLS: with the right CA (and
// client certificate) pushes arrive; without, they fail and say why.
func TestTLSToCollector(t *testing.T) {
	pki := otlptest.NewPKI(t)
	for _, mtls := range []bool{false, true} {
		sink := otlptest.NewSink(t, false)
		col := otlptest.StartCollector(t, sink, otlptest.WithTLS(pki, mtls))
		for _, protocol := range []string{string(collector.ProtocolHTTP), string(collector.ProtocolGRPC)} {
			name := map[bool]string{false: "tls", true: "mtls"}[mtls] + "/" + protocol
			endpoint := col.Endpoint
			if protocol == string(collector.ProtocolGRPC) {
				endpoint = col.GRPC
			}
			vars := func(extra ...string) map[string]string {
				m := map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
					"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"}
				for i := 0; i < len(extra); i += 2 {
					m[extra[i]] = extra[i+1]
				}
				return m
			}
			t.Run(name+"/without the CA", func(t *testing.T) {
				before := sink.Total("requests")
				p := newPushing(t, vars(), time.Second)
				p.add(1)
				if err := p.flush(); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
					t.Errorf("flush: %v, want an unknown-authority error", err)
				}
				if !strings.Contains(p.logs.String(), "unknown authority") {
					t.Errorf("the log does not say why:\n%s", p.logs)
				}
				if got := sink.Total("requests"); got != before {
					t.Errorf("something arrived without the CA")
				}
			})
			if mtls {
				t.Run(name+"/without a client certificate", func(t *testing.T) {
					before := sink.Total("requests")
					p := newPushing(t, vars("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.CA), time.Second)
					p.add(1)
					err := p.flush()
					// Over HTTP the alert reaches the client ("certificate
					// required"); gRPC sees the connection closed under it.
					if err == nil || (protocol == string(collector.ProtocolHTTP) && !strings.Contains(err.Error(), "certificate")) {
						t.Errorf("flush: %v, want the destination to ask for a certificate", err)
					}
					t.Logf("without a client certificate: %v", err)
					if got := sink.Total("requests"); got != before {
						t.Errorf("something arrived without a client certificate")
					}
				})
			}
			t.Run(name+"/with the CA", func(t *testing.T) {
				before := sink.Total("requests")
				extra := []string{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", pki.CA}
				if mtls {
					extra = append(extra, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.ClientCert, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", pki.ClientKey)
				}
				p := newPushing(t, vars(extra...), 5*time.Second)
				p.add(7)
				if err := p.flush(); err != nil {
					t.Fatalf("flush: %v\n%s", err, col.Logs())
				}
				sink.WaitTotal(t, "requests", before+7, 20*time.Second)
			})
		}
	}
}

// A TLS file that cannot be used stops the start, naming the variable.
func TestTLSFilesRefused(t *testing.T) {
	pki := otlptest.NewPKI(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	https := "https://otel.example.com"
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"missing CA file", map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": filepath.Join(dir, "nope.pem")},
			`invalid OTEL_EXPORTER_OTLP_CERTIFICATE="` + filepath.Join(dir, "nope.pem") + `": cannot read the CA certificate file`},
		{"not PEM", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": garbage},
			`invalid OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE="` + garbage + `": no PEM certificate in the file`},
		{"certificate without key", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert},
			`invalid OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE="` + pki.ClientCert + `": needs OTEL_EXPORTER_OTLP_CLIENT_KEY`},
		{"key without certificate", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": pki.ClientKey},
			`invalid OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY="` + pki.ClientKey + `": needs OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`},
		{"key of another certificate", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert, "OTEL_EXPORTER_OTLP_CLIENT_KEY": pki.ServerKey},
			`invalid OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE="` + pki.ClientCert + `": with OTEL_EXPORTER_OTLP_CLIENT_KEY=`},
		{"unreadable key", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert, "OTEL_EXPORTER_OTLP_CLIENT_KEY": dir},
			`invalid OTEL_EXPORTER_OTLP_CLIENT_KEY="` + dir + `": cannot read the client key file`},
		{"plain http", map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": pki.CA, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
			`invalid OTEL_EXPORTER_OTLP_CERTIFICATE="` + pki.CA + `": a TLS file is set but the OTLP endpoint http://127.0.0.1:4318/v1/metrics is plain http://`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.vars["OTEL_EXPORTER_OTLP_ENDPOINT"]; !ok {
				tc.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = https
			}
			_, err := collector.ConfigFromEnv(env.Map(tc.vars))
			if !errors.Is(err, collector.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
	cfg, err := collector.ConfigFromEnv(env.Map(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": https,
		"OTEL_EXPORTER_OTLP_CERTIFICATE": pki.CA, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert, "OTEL_EXPORTER_OTLP_CLIENT_KEY": pki.ClientKey}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (collector.TLSFiles{CA: pki.CA, ClientCert: pki.ClientCert, ClientKey: pki.ClientKey}); cfg.TLSFiles != want || cfg.TLS == nil || len(cfg.TLS.Certificates) != 1 {
		t.Errorf("TLSFiles = %+v, want %+v; TLS %v", cfg.TLSFiles, want, cfg.TLS)
	}
}
