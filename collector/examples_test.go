package collector_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"
)

// The forwarding configs shipped in examples/collector load in the real
// Collector this project builds.
func TestExampleCollectorConfigsValidate(t *testing.T) {
	bin := otlptest.Binary(t)
	files, err := filepath.Glob("../examples/collector/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("example collector configs: %v %v", files, err)
	}
	for _, f := range files {
		cmd := exec.Command(bin, "validate", "--config=file:"+f)
		cmd.Env = append(os.Environ(), "SPLUNK_REALM=us1", "SPLUNK_ACCESS_TOKEN=token", "NEW_RELIC_LICENSE_KEY=key", "DD_API_KEY=key")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}
