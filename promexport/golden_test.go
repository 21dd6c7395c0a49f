package promexport_test

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
	"github.com/metricsbridge/metricsbridge/promexport"
)

var update = flag.Bool("update", false, "rewrite promexport/testdata/*.golden with the scrapes of TestGoldenScrape")

// openMetrics is the Accept header that asks for OpenMetrics text.
const openMetrics = "application/openmetrics-text;version=1.0.0"

// goldenTraffic serves a fixed set of requests through p's middleware,
// each with ctx. The handlers sleep, and the test runs in a synctest
// bubble whose clock only moves when they do, so every duration is
// exactly the sleep: the bucket counts and the sums are the same on every
// run, however loaded the machine. The bubble's clock starts at the same
// instant every time, so timestamps need no normalising either.
func goldenTraffic(ctx context.Context, p *otelmetrics.Provider) {
	sleep := func(d time.Duration, status int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(d)
			w.WriteHeader(status)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", sleep(0, http.StatusOK))
	mux.Handle("POST /users", sleep(30*time.Millisecond, http.StatusCreated))
	mux.Handle("GET /slow", sleep(1500*time.Millisecond, http.StatusOK))
	mux.Handle("DELETE /users/{id}", sleep(7*time.Millisecond, http.StatusInternalServerError))
	h := p.Middleware(mux)
	for _, r := range []struct {
		method, path string
		times        int
	}{
		{"GET", "/users/1", 3},
		{"GET", "/users/2", 1},
		{"POST", "/users", 2},
		{"GET", "/slow", 1},
		{"DELETE", "/users/3", 1},
		{"GET", "/missing", 2}, // no route: handler "none"
	} {
		for range r.times {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, r.method, r.path, nil))
		}
	}
}

// overflowTraffic asks for more routes than the cardinality limit.
func overflowTraffic(ctx context.Context, p *otelmetrics.Provider) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /r/{id}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		otelmetrics.SetRoute(r.Context(), "/r/"+r.PathValue("id"))
	})
	h := p.Middleware(mux)
	for i := range 6 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", "/r/"+strconv.Itoa(i), nil))
	}
}

// TestGoldenScrape compares the scrape of fixed scenarios, recorded
// through the real provider and middleware, with testdata/<name>.golden.
// go test ./promexport -run Golden -update rewrites the files; review
// their diff as the change a user's dashboards and alerts will see.
func TestGoldenScrape(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*otelmetrics.Config)
		opts    []otelmetrics.Option
		traffic func(context.Context, *otelmetrics.Provider)
		accept  string
		// traced requests carry a sampled span, which exemplars would
		// show.
		traced bool
	}{
		{name: "default_names"},
		{name: "semconv_names", edit: func(c *otelmetrics.Config) { c.PrometheusNames = promexport.NamesSemconv }},
		{name: "both_names", edit: func(c *otelmetrics.Config) { c.PrometheusNames = promexport.NamesBoth }},
		{name: "namespace_subsystem", edit: func(c *otelmetrics.Config) { c.Namespace, c.Subsystem = "shop", "api" }},
		{
			name: "custom_labels_app_info",
			edit: func(c *otelmetrics.Config) {
				c.CustomLabels = []otelmetrics.Label{{Key: "env", Value: "prod"}, {Key: "region", Value: "eu-west-1"}}
			},
			opts: []otelmetrics.Option{otelmetrics.WithVersion("1.2.3")},
		},
		{
			name:   "openmetrics_without_exemplars",
			edit:   func(c *otelmetrics.Config) { c.Exemplars = false },
			accept: openMetrics,
			traced: true,
		},
		{
			name:    "cardinality_overflow",
			edit:    func(c *otelmetrics.Config) { c.CardinalityLimit = 3 },
			traffic: overflowTraffic,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			synctest.Test(t, func(t *testing.T) {
				cfg := otelmetrics.DefaultConfig()
				if tc.edit != nil {
					tc.edit(&cfg)
				}
				opts := append([]otelmetrics.Option{otelmetrics.WithVersion("0.0.0-test"),
					otelmetrics.WithLogger(slog.New(slog.DiscardHandler))}, tc.opts...)
				p, err := otelmetrics.NewProvider(cfg, opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
				traffic := tc.traffic
				if traffic == nil {
					traffic = goldenTraffic
				}
				ctx := t.Context()
				if tc.traced {
					tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
					t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
					var span trace.Span
					ctx, span = tp.Tracer("golden").Start(ctx, "request")
					defer span.End()
				}
				traffic(ctx, p)
				code, text := scrapeOnce(t, p.MetricsHandler(), tc.accept)
				if code != http.StatusOK {
					t.Fatalf("scrape: status %d\n%s", code, text)
				}
				got = text
			})
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./promexport -run Golden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("scrape differs from %s (go test ./promexport -run Golden -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+), in order.
func lineDiff(want, got string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		} else {
			g[l]--
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		} else {
			w[l]--
		}
	}
	return b.String()
}
