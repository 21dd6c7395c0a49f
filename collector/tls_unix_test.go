//go:build unix

package collector_test

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// A TLS variable naming a FIFO nobody writes to, or an endless device, is
// refused at once, naming the variable: such a file used to block the
// start until killed, or be read up to the cap.
func TestTLSFilesNotRegular(t *testing.T) {
	pki := otlptest.NewPKI(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ path, why string }{
		{fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "not a regular file (a device)"},
	} {
		for _, tc := range []struct {
			name, what string
			vars       map[string]string
		}{
			{"OTEL_EXPORTER_OTLP_CERTIFICATE", "CA certificate", map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": bad.path}},
			{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "CA certificate", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": bad.path}},
			{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "client certificate", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": bad.path, "OTEL_EXPORTER_OTLP_CLIENT_KEY": pki.ClientKey}},
			{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "client certificate", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE": bad.path, "OTEL_EXPORTER_OTLP_CLIENT_KEY": pki.ClientKey}},
			{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "client key", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert, "OTEL_EXPORTER_OTLP_CLIENT_KEY": bad.path}},
			{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "client key", map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pki.ClientCert, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": bad.path}},
		} {
			t.Run(tc.name+" "+filepath.Base(bad.path), func(t *testing.T) {
				tc.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://otel.example.com"
				done := make(chan error, 1)
				go func() {
					_, err := collector.ConfigFromEnv(env.Map(tc.vars))
					done <- err
				}()
				var err error
				select {
				case err = <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("ConfigFromEnv blocked")
				}
				want := `invalid ` + tc.name + `="` + bad.path + `": cannot read the ` + tc.what + ` file: ` + bad.why
				if !errors.Is(err, collector.ErrConfig) || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\nwant %s", err, want)
				}
			})
		}
	}
}
