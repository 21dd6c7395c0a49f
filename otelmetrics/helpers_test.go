package otelmetrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// newTestProvider builds a Provider from environment-style settings, with
// metrics enabled unless the map says otherwise.
func newTestProvider(t testing.TB, vars map[string]string) *Provider {
	t.Helper()
	m := map[string]string{envEnableMetrics: "true"}
	for k, v := range vars {
		m[k] = v
	}
	cfg, err := ConfigFromEnv(env.Map(m))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProvider(cfg, WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	return p
}

// testMux has one route per behaviour the middleware must record.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/invoke", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("GET /servers/{id}/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
	})
	mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {}) // writes nothing: 200
	mux.HandleFunc("GET /unavailable", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("PUT /early-hints", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x") })
	mux.HandleFunc("example.com/hosted", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

// scrape returns the endpoint's text exposition.
func scrape(t testing.TB, p *Provider) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// seriesOf flattens exposition text into sorted `name{labels} value` lines.
// Timing-dependent samples are left out (histogram _sum and the finite
// buckets); checkHistograms verifies those separately.
func seriesOf(t testing.TB, text string) []string {
	t.Helper()
	fams := parse(t, text)
	var out []string
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			labels := labelString(m.GetLabel(), "")
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, fmt.Sprintf("%s%s %g", name, labels, m.GetCounter().GetValue()))
			case dto.MetricType_GAUGE:
				out = append(out, fmt.Sprintf("%s%s %g", name, labels, m.GetGauge().GetValue()))
			case dto.MetricType_HISTOGRAM:
				out = append(out, fmt.Sprintf("%s_count%s %d", name, labels, m.GetHistogram().GetSampleCount()))
			default:
				t.Fatalf("unexpected type %s for %s", mf.GetType(), name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func parse(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, text)
	}
	return fams
}

func labelString(lps []*dto.LabelPair, extra string) string {
	parts := make([]string, 0, len(lps))
	for _, lp := range lps {
		parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// checkHistograms verifies that every histogram has exactly the configured
// boundaries, cumulative counts and a plausible sum.
func checkHistograms(t testing.TB, text string, bounds []float64) {
	t.Helper()
	for name, mf := range parse(t, text) {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			var les []float64
			prev := uint64(0)
			for _, b := range h.GetBucket() {
				les = append(les, b.GetUpperBound())
				if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
					t.Errorf("%s: bucket le=%g count %d not cumulative", name, b.GetUpperBound(), b.GetCumulativeCount())
				}
				prev = b.GetCumulativeCount()
			}
			if want := append(slices.Clone(bounds), math.Inf(1)); !slices.Equal(les, want) {
				t.Errorf("%s: boundaries %v, want %v", name, les, want)
			}
			if s := h.GetSampleSum(); s < 0 || math.IsNaN(s) || (h.GetSampleCount() > 0 && s == 0) {
				t.Errorf("%s: implausible sum %g for count %d", name, s, h.GetSampleCount())
			}
		}
	}
}

// do sends one request through h and returns the response status.
func do(h http.Handler, method, target string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code
}
