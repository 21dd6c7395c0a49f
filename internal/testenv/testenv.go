// Package testenv decides what a test does when a program it needs from
// outside Go (Prometheus, the Collector, Chromium, Node, Python) is
// missing: it skips, naming `make deps`, so that `go test ./...` passes on
// a machine with only Go; when METRICSBRIDGE_E2E is set, as `make test`
// sets it, it fails instead, so that CI cannot pass by skipping.
//
//	bin := testenv.Program(t, "node")
//	dir, err := cachedBuild()
//	testenv.Need(t, "Prometheus 3 (scripts/build-prometheus.sh)", err)
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Var is the environment variable that makes a missing program a failure.
const Var = "METRICSBRIDGE_E2E"

// Strict reports whether a missing program fails the test rather than
// skipping it: Var is set to anything but "" or "0". promtest and otlptest
// also use it to decide whether they may start a build of minutes.
func Strict() bool {
	v := os.Getenv(Var)
	return v != "" && v != "0"
}

// Need does nothing when err is nil. Otherwise what, a program or a
// build, is unavailable for the reason err gives: the test is skipped, or
// fails when Strict, with a message naming `make deps`, which installs
// everything the tests use.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Strict() {
		t.Fatalf("%s is unavailable: %v; run make deps to install it (%s is set, so this fails instead of skipping)", what, err, Var)
	}
	t.Skipf("%s is unavailable: %v; run make deps to install it (set %s=1 to fail instead of skipping)", what, err, Var)
}

// Program returns the path of the named program found in PATH, or skips
// or fails the test as Need does.
func Program(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, name, err)
	return p
}
