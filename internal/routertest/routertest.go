// Package routertest drives real requests through a router over loopback
// and reads back what the scrape endpoint says about them, so the router
// examples (each in a module of its own) hold the same traffic to the same
// series. It is for tests only.
package routertest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// NewProvider returns a Provider with metrics enabled and every other
// setting at its default, shut down when the test ends.
func NewProvider(t testing.TB) *otelmetrics.Provider {
	t.Helper()
	cfg := otelmetrics.DefaultConfig()
	cfg.Enabled = true
	p, err := otelmetrics.NewProvider(cfg, otelmetrics.WithoutUnroutedWarning())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

type requestIDKey struct{}

// RequestID stands for the middleware users put between the bridge and
// their router (request IDs, auth, http.TimeoutHandler): it hands next a
// copy of the request with a context of its own, so next's request is not
// the one the outer middleware holds.
func RequestID(next http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := fmt.Sprintf("req-%d", n.Add(1))
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// Request is one request of the traffic and the status it must get.
type Request struct {
	Method, Path string
	Status       int
}

// Drive serves h on a loopback server and sends the requests in order,
// one at a time, failing the test on a status other than the one wanted.
func Drive(t testing.TB, h http.Handler, reqs []Request) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, rq := range reqs {
		req, err := http.NewRequest(rq.Method, srv.URL+rq.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rq.Status {
			t.Errorf("%s %s: status %d, want %d", rq.Method, rq.Path, resp.StatusCode, rq.Status)
		}
	}
}

// Series is one http_requests_total series.
type Series struct{ Method, Handler, Status string }

func (s Series) String() string {
	return fmt.Sprintf("{method=%q,handler=%q,status=%q}", s.Method, s.Handler, s.Status)
}

// Scrape is what one scrape says about HTTP requests.
type Scrape struct {
	// Requests is http_requests_total by series.
	Requests map[Series]float64
	// Durations is http_request_duration_seconds_count by method and
	// handler (Series.Status left empty).
	Durations map[Series]uint64
	// Text is the exposition as served.
	Text string
}

// Get scrapes the metrics handler in the text format, has promtool check
// the exposition, and parses it.
func Get(t testing.TB, metrics http.Handler) Scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	promtest.CheckMetrics(t, body)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	s := Scrape{Requests: map[Series]float64{}, Durations: map[Series]uint64{}, Text: string(body)}
	if f := families["http_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			s.Requests[series(t, m, "method", "handler", "status")] += m.GetCounter().GetValue()
		}
	}
	if f := families["http_request_duration_seconds"]; f != nil {
		for _, m := range f.GetMetric() {
			s.Durations[series(t, m, "method", "handler")] += m.GetHistogram().GetSampleCount()
		}
	}
	return s
}

// series reads a metric's labels, which must be exactly names.
func series(t testing.TB, m *dto.Metric, names ...string) Series {
	t.Helper()
	var s Series
	got := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		got = append(got, l.GetName())
		switch l.GetName() {
		case "method":
			s.Method = l.GetValue()
		case "handler":
			s.Handler = l.GetValue()
		case "status":
			s.Status = l.GetValue()
		}
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("series with labels %v, want exactly %v", got, names)
	}
	return s
}

// Check fails the test unless http_requests_total is exactly want and
// http_request_duration_seconds counts the same requests per method and
// handler.
func (s Scrape) Check(t testing.TB, want map[Series]float64) {
	t.Helper()
	for k, v := range want {
		if s.Requests[k] != v {
			t.Errorf("http_requests_total%s = %v, want %v", k, s.Requests[k], v)
		}
	}
	for k, v := range s.Requests {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series http_requests_total%s = %v", k, v)
		}
	}
	perHandler := map[Series]uint64{}
	for k, v := range want {
		perHandler[Series{Method: k.Method, Handler: k.Handler}] += uint64(v)
	}
	if !maps.Equal(s.Durations, perHandler) {
		t.Errorf("http_request_duration_seconds_count = %v, want %v", s.Durations, perHandler)
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", s.Text)
	}
}

// Same fails the test unless two scrapes hold the same request series and
// counts: the way two instrumentations of the same traffic are compared.
func Same(t testing.TB, got, want Scrape) {
	t.Helper()
	if !maps.Equal(got.Requests, want.Requests) || !maps.Equal(got.Durations, want.Durations) {
		t.Errorf("series differ\n got: %v %v\nwant: %v %v\n got scrape:\n%s\nwant scrape:\n%s",
			got.Requests, got.Durations, want.Requests, want.Durations, got.Text, want.Text)
	}
}
