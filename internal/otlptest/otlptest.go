// Package otlptest receives OTLP/HTTP metric exports on loopback and runs
// the OpenTelemetry Collector built by scripts/build-collector.sh, for the
// end-to-end tests of the push path.
package otlptest

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/metricsbridge/metricsbridge/internal/logbuf"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/internal/testenv"
)

// Request is one export as it arrived.
type Request struct {
	Path    string
	Host    string
	Header  http.Header
	Metrics *colmetricpb.ExportMetricsServiceRequest
	// Size is the uncompressed protobuf body's length in bytes.
	Size int
}

// Sink is an OTLP/HTTP metrics receiver that keeps every request it
// accepts.
type Sink struct {
	srv      *httptest.Server // nil for an OTLP/gRPC sink
	grpc     *grpc.Server     // nil for an OTLP/HTTP sink
	ln       *switchListener
	mu       sync.Mutex
	reqs     []Request
	attempts []Request
	arrivals []time.Time
	reply    func(n int) Reply
}

// Reply is how the sink answers an export, other than with a plain 200.
type Reply struct {
	// Status, when not 0 or 200, makes an OTLP/HTTP sink refuse the
	// export: it is not kept.
	Status int
	// Code, when not OK, makes an OTLP/gRPC sink refuse the export with
	// that status: it is not kept.
	Code codes.Code
	// RetryAfter is sent as the Retry-After header when not empty; an
	// OTLP/gRPC sink sends it, in seconds, as RetryInfo with a refusal.
	RetryAfter string
	// Rejected makes a 200 a partial success rejecting that many points.
	Rejected int64
	// Reset keeps the export, as a destination that received it would, and
	// then resets the connection instead of answering.
	Reset bool
}

// SetReply makes the sink answer the n-th export (counting from 1, every
// arrival included) with f(n).
func (s *Sink) SetReply(f func(n int) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = f
}

// Arrivals returns when each export arrived, refused ones included.
func (s *Sink) Arrivals() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// NewSink starts a receiver on 127.0.0.1, with TLS when tls is true; it is
// closed when the test ends.
func NewSink(t testing.TB, useTLS bool) *Sink {
	t.Helper()
	s := &Sink{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ln = &switchListener{Listener: s.srv.Listener, addr: s.srv.Listener.Addr().String()}
	s.ln.cond = sync.NewCond(&s.ln.mu)
	s.srv.Listener = s.ln
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// Down closes the sink's listening socket, so that exports are refused
// (ECONNREFUSED), as by a destination that is not running; Up listens on
// the same address again.
func (s *Sink) Down(t testing.TB) {
	t.Helper()
	s.ln.mu.Lock()
	wasUp := !s.ln.down
	if wasUp {
		s.ln.down = true
		_ = s.ln.Listener.Close()
	}
	s.ln.mu.Unlock()
	switch {
	case !wasUp:
	case s.srv != nil:
		s.srv.CloseClientConnections()
	default:
		s.ln.resetConns()
	}
}

// Up undoes Down.
func (s *Sink) Up(t testing.TB) {
	t.Helper()
	s.ln.mu.Lock()
	defer s.ln.mu.Unlock()
	if !s.ln.down {
		return
	}
	ln, err := net.Listen("tcp", s.ln.addr)
	if err != nil {
		t.Fatalf("otlptest: listen again on %s: %v", s.ln.addr, err)
	}
	s.ln.Listener, s.ln.down = ln, false
	s.ln.cond.Broadcast()
}

// switchListener is a listener whose socket can be closed and opened
// again while the server using it keeps running.
type switchListener struct {
	net.Listener
	addr   string
	mu     sync.Mutex
	cond   *sync.Cond
	down   bool
	closed bool
	// conns are the open connections it accepted; only the gRPC sink,
	// whose server cannot close its clients' connections, tracks them.
	conns map[*trackedConn]struct{}
}

func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		for l.down && !l.closed {
			l.cond.Wait()
		}
		inner, closed := l.Listener, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		c, err := inner.Accept()
		if err == nil {
			return l.track(c), nil
		}
		l.mu.Lock()
		retry := (l.down || l.Listener != inner) && !l.closed
		l.mu.Unlock()
		if !retry {
			return nil, err
		}
	}
}

func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.cond.Broadcast()
	if l.down {
		return nil
	}
	return l.Listener.Close()
}

func (l *switchListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Listener.Addr()
}

// URL is the receiver's base URL.
func (s *Sink) URL() string {
	if s.srv == nil {
		return "http://" + s.ln.addr
	}
	return s.srv.URL
}

// Client, for an OTLP/HTTP sink, returns an HTTP client that sends every request, whatever its
// host, to the sink, trusting the sink's certificate: a vendor's ingest
// host stands in for itself while the bytes stay on loopback.
func (s *Sink) Client() *http.Client {
	addr := s.srv.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	if s.srv.TLS != nil {
		// httptest's certificate names example.com; checking that name
		// keeps verification on while the request names the vendor's host.
		tr.TLSClientConfig = &tls.Config{
			RootCAs:    s.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
			ServerName: "example.com",
		}
	}
	return &http.Client{Transport: tr}
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &colmetricpb.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep := s.arrive(Request{Path: r.URL.Path, Host: r.Host, Header: r.Header.Clone(), Metrics: req, Size: len(b)},
		func(rep Reply) bool { return rep.Status == 0 || rep.Status == http.StatusOK })
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	switch {
	case rep.Reset:
		resetConn(w)
		return
	case rep.Status != 0 && rep.Status != http.StatusOK:
		http.Error(w, "refused by the test", rep.Status)
		return
	}
	out := &colmetricpb.ExportMetricsServiceResponse{}
	if rep.Rejected > 0 {
		out.PartialSuccess = &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: rep.Rejected, ErrorMessage: "rejected by the test"}
	}
	resp, _ := proto.Marshal(out)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// resetConn closes the connection with a TCP RST: the client has sent its
// whole request and learns nothing of its fate.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	} else if tlsConn, ok := conn.(*tls.Conn); ok {
		if tc, ok := tlsConn.NetConn().(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	_ = conn.Close()
}

// arrive notes an export and returns how to answer it; it is kept when
// accepted says so of the answer.
func (s *Sink) arrive(r Request, accepted func(Reply) bool) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals = append(s.arrivals, time.Now())
	s.attempts = append(s.attempts, r)
	var rep Reply
	if s.reply != nil {
		rep = s.reply(len(s.arrivals))
	}
	if accepted(rep) {
		s.reqs = append(s.reqs, r)
	}
	return rep
}

// Attempts returns every export that arrived so far, refused ones
// included: what was sent, where Requests is what was accepted.
func (s *Sink) Attempts() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.attempts...)
}

// Requests returns a copy of what was accepted so far.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// metrics calls fn with every metric of that name that arrived, in order.
func (s *Sink) metrics(name string, fn func(*metricpb.Metric)) {
	for _, r := range s.Requests() {
		for _, rm := range r.Metrics.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == name {
						fn(m)
					}
				}
			}
		}
	}
}

// Points returns every data point of the named sum metric that arrived, in
// order, with its temporality.
func (s *Sink) Points(name string) (points []*metricpb.NumberDataPoint, temporality []metricpb.AggregationTemporality) {
	s.metrics(name, func(m *metricpb.Metric) {
		for _, dp := range m.GetSum().GetDataPoints() {
			points = append(points, dp)
			temporality = append(temporality, m.GetSum().AggregationTemporality)
		}
	})
	return points, temporality
}

// Histograms returns every data point of the named histogram metric that
// arrived, in order, with its temporality.
func (s *Sink) Histograms(name string) (points []*metricpb.HistogramDataPoint, temporality []metricpb.AggregationTemporality) {
	s.metrics(name, func(m *metricpb.Metric) {
		for _, dp := range m.GetHistogram().GetDataPoints() {
			points = append(points, dp)
			temporality = append(temporality, m.GetHistogram().AggregationTemporality)
		}
	})
	return points, temporality
}

// Total is what a backend would show as the total of a counter, or of a
// histogram's count, over all its series: the sum of every delta point,
// or of the latest cumulative value of each series.
func (s *Sink) Total(name string) int64 {
	return s.TotalWhere(name, func(map[string]string) bool { return true })
}

// TotalWhere is Total over the series whose string attributes (ints are
// formatted in decimal) satisfy keep.
func (s *Sink) TotalWhere(name string, keep func(attrs map[string]string) bool) int64 {
	type point struct {
		attrs []*commonpb.KeyValue
		value int64
		delta bool
	}
	var all []point
	sums, sumTemps := s.Points(name)
	for i, dp := range sums {
		all = append(all, point{dp.Attributes, dp.GetAsInt(), sumTemps[i] == metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA})
	}
	hists, histTemps := s.Histograms(name)
	for i, dp := range hists {
		all = append(all, point{dp.Attributes, int64(dp.GetCount()), histTemps[i] == metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA})
	}
	latest := map[string]int64{}
	var delta int64
	for _, p := range all {
		if !keep(Attrs(p.attrs)) {
			continue
		}
		if p.delta {
			delta += p.value
			continue
		}
		latest[fmt.Sprint(p.attrs)] = p.value
	}
	for _, v := range latest {
		delta += v
	}
	return delta
}

// Attrs flattens OTLP attributes into strings.
func Attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = strconv.FormatBool(v.BoolValue)
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

// WaitTotal polls until Total(name) is want or the timeout passes.
func (s *Sink) WaitTotal(t testing.TB, name string, want int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.Total(name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("total of %s = %d after %s, want %d", name, got, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Collector is a running OpenTelemetry Collector.
type Collector struct {
	t        testing.TB
	bin, cfg string
	// Endpoint is the OTLP/HTTP receiver's base URL, GRPC the gRPC one.
	Endpoint, GRPC string
	addrs          []string // the receivers' host:port, HTTP then gRPC
	cmd            *exec.Cmd
	done           chan struct{}
	logs           *logbuf.Buffer
	mu             sync.Mutex
}

// Binary returns the path of the collector distribution. With
// METRICSBRIDGE_E2E set it builds it first if no cached build exists;
// without it, it uses a cached build or skips the test rather than start a
// build of minutes (see internal/testenv).
func Binary(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "build-collector.sh")
	cmd := exec.Command(script)
	if !testenv.Strict() {
		cmd.Args = append(cmd.Args, "--cached")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	testenv.Need(t, "the Collector (scripts/build-collector.sh)", err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// CollectorOption changes how StartCollector configures the collector.
type CollectorOption func(*collectorConfig)

type collectorConfig struct {
	tls        *PKI
	clientAuth bool
}

// WithTLS makes both receivers listen with TLS, presenting the PKI's
// server certificate; with clientAuth they also require a client
// certificate signed by its CA (mTLS). Endpoint and GRPC become https://.
func WithTLS(p *PKI, clientAuth bool) CollectorOption {
	return func(c *collectorConfig) { c.tls, c.clientAuth = p, clientAuth }
}

// StartCollector runs the collector with an OTLP receiver on free loopback
// ports, forwarding every metric to sink through its otlp_http exporter.
func StartCollector(t testing.TB, sink *Sink, opts ...CollectorOption) *Collector {
	t.Helper()
	var cc collectorConfig
	for _, o := range opts {
		o(&cc)
	}
	c := &Collector{t: t, bin: Binary(t)}
	httpAddr, grpcAddr := promtest.FreeAddr(t), promtest.FreeAddr(t)
	scheme, tlsBlock := "http://", ""
	if p := cc.tls; p != nil {
		scheme = "https://"
		tlsBlock = fmt.Sprintf("\n        tls:\n          cert_file: %s\n          key_file: %s", p.ServerCert, p.ServerKey)
		if cc.clientAuth {
			tlsBlock += "\n          client_ca_file: " + p.CA
		}
	}
	c.Endpoint, c.GRPC = scheme+httpAddr, scheme+grpcAddr
	c.addrs = []string{httpAddr, grpcAddr}
	config := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %s%s
      grpc:
        endpoint: %s%s
exporters:
  otlp_http:
    endpoint: %s
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlp_http, debug]
`, httpAddr, tlsBlock, grpcAddr, tlsBlock, sink.URL())
	c.launch(config)
	return c
}

// launch writes config to a file of the test's and starts the collector
// on it until the test ends.
func (c *Collector) launch(config string) {
	c.t.Helper()
	c.cfg = filepath.Join(c.t.TempDir(), "collector.yaml")
	if err := os.WriteFile(c.cfg, []byte(config), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.Start()
	c.t.Cleanup(c.Stop)
}

// Logs returns what the collector printed so far.
func (c *Collector) Logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

// Start (re)starts the collector on its ports and waits until it accepts
// connections.
func (c *Collector) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = &logbuf.Buffer{}
	c.cmd = exec.Command(c.bin, "--config=file:"+c.cfg)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start collector: %v", err)
	}
	c.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(c.cmd, c.done)
	// Both receivers must be up: the HTTP one often listens before the
	// gRPC one, and a gRPC push in that gap is refused.
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range c.addrs {
		c.waitListening(addr, deadline)
	}
}

// waitListening returns once addr accepts a connection; it fails the test
// when the collector exits or the deadline passes first.
func (c *Collector) waitListening(addr string, deadline time.Time) {
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-c.done:
			c.t.Fatalf("collector exited:\n%s", c.logs)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("collector not listening on %s:\n%s", addr, c.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM, so the collector drains its queue, and waits.
func (c *Collector) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}
