package examples

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/metricsbridge/metricsbridge/collector"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// Job names of the two bridges: the scraped one's job is the scrape
// config's, the pushing one's its service.name.
const (
	scrapedJob = "scraped"
	pushedJob  = "pushed"
)

// One Prometheus 3 scrapes a bridge and receives the push of a second one
// (METRICS_OTLP_VENDOR=prometheus) on its OTLP receiver; both serve the
// same requests. Every shipped query (dashboard panels, recording rules,
// alerts on http series) returns, for the pushed job, the series and the
// numbers it returns for the scraped one.
//
// The numbers are compared with the range selectors anchored: rate() and
// increase() then take the difference of the values at the window's
// edges, which the same traffic makes equal when both sides sample only
// between batches. Unanchored, Prometheus extrapolates from when the
// samples were taken, and a scrape and a push are taken on clocks of their
// own; those results are compared for the same series and the same kind
// of value (finite or NaN).
func TestPushIntoPrometheusAnswersTheShippedQueries(t *testing.T) {
	scraped := startLibraryBridge(t)
	cfg := map[string]any{
		"global": map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
		"scrape_configs": []any{map[string]any{
			"job_name":         scrapedJob,
			"metrics_path":     "/metrics/prometheus",
			"static_configs":   []any{map[string]any{"targets": []any{scraped.addr}}},
			"scrape_protocols": []any{"PrometheusProto", "OpenMetricsText1.0.0", "PrometheusText0.0.4"},
		}},
	}
	prom := promtest.Start(t, marshalYAML(t, cfg), "--web.enable-otlp-receiver", "--enable-feature=promql-extended-range-selectors")
	pushed := startLibraryBridge(t,
		"METRICS_OTLP_VENDOR=prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT="+prom.URL, "OTEL_METRIC_EXPORT_INTERVAL=3600000")

	// Two batches, each in on both sides before the next, so that every
	// rate has a slope and both sides hold the same values. A series'
	// first sample is its value when first sampled, so samples are taken
	// between batches only: scrapes wait for a batch to end, and the
	// pushing bridge pushes when the test flushes it.
	for batch := 1; batch <= 2; batch++ {
		for _, b := range []*libraryBridge{scraped, pushed} {
			b.gate.Lock()
			slowTraffic(t, b.addr)
			b.gate.Unlock()
		}
		for range 4 {
			if err := pushed.p.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, job := range []string{scrapedJob, pushedJob} {
			q := fmt.Sprintf(`sum(http_requests_total{job=%q}) == %d`, job, batch*slowTrafficRequests)
			prom.WaitFor(t, q, 20*time.Second, func(s []promtest.Sample) bool { return len(s) == 1 })
		}
	}
	if err := pushed.p.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	at := time.Now()

	queries := append(DashboardQueries(t, DashboardVars{Job: "$job", RateInterval: "1m", Range: "5m"}), RecordingRuleQueries(t)...)
	queries = append(queries, alertQueries(t)...)
	anchored := regexp.MustCompile(`(\[[0-9]+[smh]\])`)
	compared := 0
	maxDrift := 0.0 // the largest relative difference as shipped
	for _, q := range queries {
		for _, form := range []string{"anchored", "as shipped"} {
			expr := q.Expr
			if form == "anchored" {
				expr = anchored.ReplaceAllString(expr, "$1 anchored")
			}
			s := queryJob(t, prom, expr, scrapedJob, at)
			p := queryJob(t, prom, expr, pushedJob, at)
			if strings.Contains(q.Source, "native") {
				// This bridge serves classic histograms: nothing on either side.
				if len(s)+len(p) != 0 {
					t.Errorf("%s (%s): scraped %v, pushed %v, want nothing", q.Source, form, s, p)
				}
				continue
			}
			if len(s) == 0 && !strings.HasPrefix(q.Source, "alert") {
				t.Errorf("%s (%s): no result over the scrape\n%s", q.Source, form, expr)
				continue
			}
			if !slices.Equal(slices.Sorted(maps.Keys(s)), slices.Sorted(maps.Keys(p))) {
				t.Errorf("%s (%s): series differ\nscraped %v\npushed  %v\n%s", q.Source, form, slices.Sorted(maps.Keys(s)), slices.Sorted(maps.Keys(p)), expr)
				continue
			}
			for k, sv := range s {
				pv := p[k]
				switch {
				case math.IsNaN(sv) != math.IsNaN(pv):
					t.Errorf("%s (%s) %s: scraped %v, pushed %v", q.Source, form, k, sv, pv)
				case form == "anchored" && !math.IsNaN(sv) && math.Abs(sv-pv) > 1e-9*math.Max(1, math.Abs(sv)):
					t.Errorf("%s (%s) %s: scraped %v, pushed %v\n%s", q.Source, form, k, sv, pv, expr)
				case form == "as shipped" && sv != 0 && !math.IsNaN(sv):
					maxDrift = max(maxDrift, math.Abs(sv-pv)/math.Abs(sv))
				}
				compared++
			}
		}
	}
	t.Logf("%d queries, %d series compared; as shipped, the results differ by up to %.1f%% (extrapolation over samples taken at other times)",
		len(queries), compared, 100*maxDrift)

	// The push carries no labels of its own beyond job and instance:
	// everything else of the resource is in target_info.
	for _, name := range []string{"http_requests_total", "http_request_duration_seconds_bucket"} {
		for _, job := range []string{scrapedJob, pushedJob} {
			res, err := prom.QueryAt(fmt.Sprintf(`count by (__name__) ({__name__=%q, job=%q})`, name, job), at)
			if err != nil || len(res) != 1 {
				t.Fatalf("%s of job %s: %v %v", name, job, res, err)
			}
		}
		keys := func(job string) []string {
			res, _ := prom.QueryAt(fmt.Sprintf(`{__name__=%q, job=%q}`, name, job), at)
			var ks []string
			for _, s := range res {
				for k := range s.Metric {
					if !slices.Contains(ks, k) {
						ks = append(ks, k)
					}
				}
			}
			sort.Strings(ks)
			return ks
		}
		if s, p := keys(scrapedJob), keys(pushedJob); !slices.Equal(s, p) {
			t.Errorf("%s labels: scraped %v, pushed %v", name, s, p)
		}
	}
	if res, err := prom.QueryAt(`target_info{job="pushed", instance="push-1"}`, at); err != nil || len(res) != 1 {
		t.Errorf("target_info of the pushed job: %v %v", res, err)
	}
}

// alertQueries returns the shipped alerts' expressions that read the http
// series (through recording rules, replaced by their expressions); the
// others watch the scrape itself (up), which a push has not.
func alertQueries(t *testing.T) []Query {
	t.Helper()
	var rf struct {
		Groups []struct {
			Rules []struct{ Record, Alert, Expr string }
		}
	}
	loadYAML(t, "prometheus/rules.yml", &rf)
	recorded := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = strings.TrimSpace(r.Expr)
			}
		}
	}
	var qs []Query
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.Contains(r.Expr, "up{") {
				continue
			}
			expr := strings.TrimSpace(r.Expr)
			for name, e := range recorded {
				expr = strings.ReplaceAll(expr, name, "("+e+")")
			}
			qs = append(qs, Query{Source: "alert " + r.Alert, Expr: expr})
		}
	}
	if len(qs) == 0 {
		t.Fatal("rules.yml has no alert on the http series")
	}
	return qs
}

// queryJob runs q at a fixed time and returns job's values by label set,
// job and instance left out: they tell the two bridges apart by design.
// A query with a $job variable (the dashboard's) selects the job itself;
// the others (the rules') keep it as a label.
func queryJob(t *testing.T, prom *promtest.Server, q, job string, at time.Time) map[string]float64 {
	t.Helper()
	selects := strings.Contains(q, "$job")
	q = strings.ReplaceAll(q, "$job", job)
	res, err := prom.QueryAt(q, at)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	out := map[string]float64{}
	for _, s := range res {
		if !selects && s.Metric["job"] != job {
			continue
		}
		m := maps.Clone(s.Metric)
		delete(m, "job")
		delete(m, "instance")
		keys := slices.Sorted(maps.Keys(m))
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q,", k, m[k])
		}
		out["{"+b.String()+"}"] = s.Value
	}
	return out
}

type libraryBridge struct {
	addr string
	p    *otelmetrics.Provider
	// gate is held while the test sends a batch; scrapes wait for it.
	gate sync.RWMutex
}

// startLibraryBridge serves the servemux program's routes through the
// library on a loopback port, its scrape endpoint without a token. With
// METRICS_OTLP_VENDOR it pushes instead of being scraped, as serve does
// with OTEL_METRICS_EXPORTER=otlp.
func startLibraryBridge(t *testing.T, vars ...string) *libraryBridge {
	t.Helper()
	// Scrapes are not traffic: the pushing bridge has none to count.
	kv := map[string]string{"METRICS_EXCLUDED_HANDLERS": "^/metrics/"}
	for _, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		kv[k] = val
	}
	lookup := env.Map(kv)
	cfg, err := otelmetrics.ConfigFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Enabled = true
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []otelmetrics.Option{otelmetrics.WithLogger(logger)}
	if kv["METRICS_OTLP_VENDOR"] != "" {
		cfg.Enabled = false
		oc, err := collector.ConfigFromEnv(lookup)
		if err != nil {
			t.Fatal(err)
		}
		pusher, err := collector.New(t.Context(), oc, collector.WithLogger(logger))
		if err != nil {
			t.Fatal(err)
		}
		res := resource.NewSchemaless(attribute.String("service.name", pushedJob), attribute.String("service.instance.id", "push-1"),
			attribute.String("deployment.environment.name", "test"))
		opts = append(opts, otelmetrics.WithReader(pusher.Reader()), otelmetrics.WithResource(res))
	}
	p, err := otelmetrics.NewProvider(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello, %s\n", r.PathValue("name")) })
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		w.WriteHeader(min(max(code, 200), 599))
	})
	mux.HandleFunc("GET /sleep/{ms}", func(w http.ResponseWriter, r *http.Request) {
		var ms int
		fmt.Sscan(r.PathValue("ms"), &ms)
		time.Sleep(time.Duration(min(ms, 1000)) * time.Millisecond)
	})
	b := &libraryBridge{p: p}
	metrics := p.MetricsHandler()
	mux.HandleFunc("GET /metrics/prometheus", func(w http.ResponseWriter, r *http.Request) {
		b.gate.RLock()
		defer b.gate.RUnlock()
		metrics.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p.Middleware(otelmetrics.RoutePattern(mux)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = p.Shutdown(ctx)
	})
	b.addr = ln.Addr().String()
	return b
}

// slowTrafficRequests is how many requests slowTraffic sends.
const slowTrafficRequests = 11

// slowTraffic sends traffic's requests and two slow ones, so that the
// latency histogram fills buckets other than the first; each sleep is in
// the middle of its bucket, far from its edges.
func slowTraffic(t *testing.T, addr string) {
	t.Helper()
	traffic(t, addr)
	for _, ms := range []int{170, 370} {
		resp, err := http.Get(fmt.Sprintf("http://%s/sleep/%d", addr, ms))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
