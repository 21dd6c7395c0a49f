package testenv_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/testenv"
)

// TestNeedChild is run by TestNeed in a child process of this test binary,
// so that the real testing package decides whether Need skipped or failed.
func TestNeedChild(t *testing.T) {
	what := os.Getenv("TESTENV_CHILD")
	if what == "" {
		return // not a test on its own
	}
	testenv.Program(t, what)
	t.Log("program found")
}

func TestNeed(t *testing.T) {
	const missing = "metricsbridge-no-such-program"
	for _, tc := range []struct {
		name    string
		program string
		e2e     string
		wantErr bool
		want    []string
	}{
		{name: "missing skips", program: missing, want: []string{"--- SKIP: TestNeedChild", missing, "run make deps", "set METRICSBRIDGE_E2E=1"}},
		{name: "missing with e2e 0 skips", program: missing, e2e: "0", want: []string{"--- SKIP: TestNeedChild", "run make deps"}},
		{name: "missing with e2e fails", program: missing, e2e: "1", wantErr: true, want: []string{"--- FAIL: TestNeedChild", missing, "run make deps", "METRICSBRIDGE_E2E is set"}},
		{name: "present runs", program: os.Args[0], e2e: "1", want: []string{"--- PASS: TestNeedChild", "program found"}},
		{name: "present runs without e2e", program: os.Args[0], want: []string{"--- PASS: TestNeedChild", "program found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNeedChild$", "-test.v")
			cmd.Env = append(withoutVar(os.Environ()), "TESTENV_CHILD="+tc.program)
			if tc.e2e != "" {
				cmd.Env = append(cmd.Env, testenv.Var+"="+tc.e2e)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if tc.wantErr != errors.As(err, &exit) || (err != nil && exit == nil) {
				t.Fatalf("child: err %v, want failure %v\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestNeedNilError(t *testing.T) {
	testenv.Need(t, "anything", nil)
	// Reaching here is the test: Need neither skipped nor failed.
}

func withoutVar(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, testenv.Var+"=") {
			out = append(out, kv)
		}
	}
	return out
}
