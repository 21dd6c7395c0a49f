// Package dashboard shows the five panels of a Python gateway's Grafana
// dashboard (request rate, 5xx rate, latency percentiles, status codes, top endpoints) from
// the bridge's own data, without Prometheus or Grafana: a bounded ring of
// snapshots of the duration histogram, a JSON summary computed from it, and
// one embedded page that draws it as SVG.
//
//	cfg, err := dashboard.ConfigFromEnv(os.LookupEnv)
//	d, err := dashboard.New(reader, cfg) // an sdkmetric.Reader of the instrumented provider
//	d.Start()
//	defer d.Stop()
//	mux.Handle("GET /metrics/summary", auth(d.SummaryHandler()))
//	mux.Handle("GET /metrics/dashboard", dashboard.PageHandler())
//	mux.Handle("GET /metrics/dashboard/", dashboard.PageHandler())
//
// otelmetrics.Provider does this wiring itself: see its DashboardHandler
// and SummaryHandler.
//
// Snapshots are taken off the request path, every 5 s over 15 min by
// default (Config.Interval, Config.Window). Each keeps only what changed since
// the one before, per series: its request count, sum and bucket deltas. So
// the ring holds at most series × window/interval entries, and the series
// are bounded by the SDK's cardinality limit.
//
// ConfigFromEnv reads METRICS_DASHBOARD (serve the page and the summary,
// default true), METRICS_DASHBOARD_INTERVAL (default 5s, 100ms to 1h) and
// METRICS_DASHBOARD_WINDOW (default 15m, 1s to 24h, at most 2,880
// intervals).
//
// Rates are counter differences over the time between snapshots.
// Percentiles come from the histogram's buckets: classic buckets are read
// exactly as PromQL's histogram_quantile reads them, so the page and a
// Prometheus query over the same span agree; OTel's base-2 exponential
// histograms are read exactly as histogram_quantile reads Prometheus native
// histograms (at schema 8 at most, walking from the top for φ ≥ 0.5).
// Series whose classic bucket bounds differ are read on the bounds they
// share; with none shared, their percentile is null.
package dashboard
