// Package promtest runs the real Prometheus tools in tests: promtool to lint
// exposition text and configs, and a Prometheus server on 127.0.0.1 that
// scrapes the code under test.
//
// The binaries are Prometheus 3, built from the official module at the
// version scripts/build-prometheus.sh pins (cached after the first build),
// since that is what operators run. Legacy returns the Debian package's
// Prometheus 2 instead, for the tests that keep older servers covered; the
// project's scripts/install-deps.sh installs both. A test whose tool is
// missing skips, or fails under `make test`, as internal/testenv decides.
package promtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/testenv"
)

// Tool returns the path of a Prometheus 3 binary, "prometheus" or
// "promtool". With METRICSBRIDGE_E2E set it builds them first if no cached
// build exists; without it, it uses a cached build or skips the test
// rather than start a build of minutes (see internal/testenv).
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir, err := v3Dir()
	testenv.Need(t, "Prometheus 3 "+name+" (scripts/build-prometheus.sh)", err)
	return filepath.Join(dir, name)
}

// Legacy returns the path of the Debian package's binary of that name (a
// Prometheus 2), or skips or fails the test as testenv.Need decides.
func Legacy(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	testenv.Need(t, name+" of Debian's Prometheus 2 package", err)
	if strings.Contains(filepath.ToSlash(p), "/metricsbridge/prometheus/") {
		t.Fatalf("%s in PATH is the cached Prometheus 3 build, not the Debian package", p)
	}
	return p
}

var v3 struct {
	once sync.Once
	dir  string
	err  error
}

// v3Dir runs scripts/build-prometheus.sh once per test binary, with
// --cached unless testenv.Strict; it prints the folder of the cached build
// on its last line.
func v3Dir() (string, error) {
	v3.once.Do(func() {
		script := filepath.Join(repoRoot(), "scripts", "build-prometheus.sh")
		var stderr bytes.Buffer
		cmd := exec.Command(script)
		if !testenv.Strict() {
			cmd.Args = append(cmd.Args, "--cached")
		}
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			v3.err = fmt.Errorf("%w: %s", err, strings.TrimSpace(lastLines(stderr.String(), 20)))
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		v3.dir = lines[len(lines)-1]
	})
	return v3.dir, v3.err
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Version returns the first line of `<bin> --version`, for test logs.
func Version(t testing.TB, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// CheckMetrics runs Prometheus 3's `promtool check metrics` on exposition
// text and fails the test with promtool's findings.
func CheckMetrics(t testing.TB, exposition []byte) {
	t.Helper()
	CheckMetricsWith(t, Tool(t, "promtool"), exposition)
}

// CheckMetricsWith runs `check metrics` of the given promtool.
func CheckMetricsWith(t testing.TB, promtool string, exposition []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// Server is a running Prometheus.
type Server struct {
	URL string
	dir string
}

// Start runs Prometheus 3 with the given configuration on a free loopback
// port with any extra flags and waits until it is ready. The configuration
// may use {{DIR}} for the server's own temporary directory (to place token
// files). It is stopped when the test ends.
func Start(t testing.TB, config string, flags ...string) *Server {
	t.Helper()
	return StartBinary(t, Tool(t, "prometheus"), config, flags...)
}

// StartBinary is Start with the given prometheus binary, Legacy's say.
func StartBinary(t testing.TB, bin, config string, flags ...string) *Server {
	t.Helper()
	dir := t.TempDir()
	config = string(bytes.ReplaceAll([]byte(config), []byte("{{DIR}}"), []byte(dir)))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, append([]string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--web.enable-lifecycle",
	}, flags...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", lastLines(logs.String(), 30))
		}
	})
	s := &Server{URL: "http://" + addr, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited early:\n%s", lastLines(logs.String(), 30))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s:\n%s", lastLines(logs.String(), 30))
		}
	}
}

// Dir is the server's temporary directory, as substituted for {{DIR}}.
func (s *Server) Dir() string { return s.dir }

// Sample is one element of an instant-query vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant query now and returns its vector result.
func (s *Server) Query(q string) ([]Sample, error) { return s.QueryAt(q, time.Time{}) }

// QueryAt runs an instant query evaluated at the given time (millisecond
// precision, as sample timestamps have), or now if it is zero.
func (s *Server) QueryAt(q string, at time.Time) ([]Sample, error) {
	u := s.URL + "/api/v1/query?query=" + url.QueryEscape(q)
	if !at.IsZero() {
		u += "&time=" + strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	}
	var data struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Value  [2]any
		}
	}
	if err := apiGet(u, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %s, want vector", q, data.ResultType)
	}
	out := make([]Sample, len(data.Result))
	for i, e := range data.Result {
		str, _ := e.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %v", q, e.Value[1], err)
		}
		out[i] = Sample{Metric: e.Metric, Value: v}
	}
	return out, nil
}

// apiGet decodes the data of a successful Prometheus HTTP API answer.
func apiGet(u string, data any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := struct {
		Status string
		Error  string
		Data   any
	}{Data: data}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%v: %s", err, body)
	}
	if r.Status != "success" {
		return errors.New(r.Error)
	}
	return nil
}

// WaitFor polls q until ok accepts the result or timeout passes, and
// returns the last result.
func (s *Server) WaitFor(t testing.TB, q string, timeout time.Duration, ok func([]Sample) bool) []Sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := s.Query(q)
		if err == nil && ok(res) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %q did not reach the expected result in %s: last %v, err %v", q, timeout, res, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address with a port free at the time of the
// call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func lastLines(s string, n int) string {
	b := []byte(s)
	for i, c := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if c++; c > n {
				return string(b[i+1:])
			}
		}
	}
	return s
}

// Exemplar is one exemplar as /api/v1/query_exemplars returns it, with the
// labels of the series it belongs to.
type Exemplar struct {
	Series map[string]string
	Labels map[string]string
	Value  float64
}

// Exemplars returns the exemplars of the series q selects over the last
// hour; the server must run with --enable-feature=exemplar-storage.
func (s *Server) Exemplars(q string) ([]Exemplar, error) {
	now := time.Now()
	u := s.URL + "/api/v1/query_exemplars?query=" + url.QueryEscape(q) +
		"&start=" + strconv.FormatInt(now.Add(-time.Hour).Unix(), 10) + "&end=" + strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	var data []struct {
		SeriesLabels map[string]string
		Exemplars    []struct {
			Labels map[string]string
			Value  string
		}
	}
	if err := apiGet(u, &data); err != nil {
		return nil, fmt.Errorf("exemplars %q: %w", q, err)
	}
	var out []Exemplar
	for _, d := range data {
		for _, e := range d.Exemplars {
			v, _ := strconv.ParseFloat(e.Value, 64)
			out = append(out, Exemplar{Series: d.SeriesLabels, Labels: e.Labels, Value: v})
		}
	}
	return out, nil
}
