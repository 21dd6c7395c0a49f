package main

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

var traffic = []routertest.Request{
	{Method: "GET", Path: "/users/1", Status: 200},
	{Method: "GET", Path: "/users/2", Status: 200},
	{Method: "GET", Path: "/users/9", Status: 404},
	{Method: "POST", Path: "/users", Status: 201},
	{Method: "GET", Path: "/health", Status: 200},
	{Method: "GET", Path: "/no/such/path", Status: 404},
	{Method: "GET", Path: "/users/1/friends", Status: 404},
	{Method: "DELETE", Path: "/users/1", Status: 405},
}

// otelhttp alone, handed the bridge's MeterProvider, scrapes as the
// bridge's middleware does for the same traffic: around the mux itself,
// where otelhttp reads Request.Pattern, and with a request-copying
// middleware in between, where RoutePattern feeds otelhttp's labeler.
func TestSameAsBridge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chain func(*http.ServeMux) http.Handler
	}{
		{"mux", func(mux *http.ServeMux) http.Handler { return mux }},
		{"request copy", func(mux *http.ServeMux) http.Handler {
			return routertest.RequestID(otelmetrics.RoutePattern(mux))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bridge := routertest.NewProvider(t)
			routertest.Drive(t, bridge.Middleware(tc.chain(newMux(bridge.MetricsHandler()))), traffic)
			want := routertest.Get(t, bridge.MetricsHandler())
			want.Check(t, map[routertest.Series]float64{
				{Method: "GET", Handler: "/users/{id}", Status: "200"}: 2,
				{Method: "GET", Handler: "/users/{id}", Status: "404"}: 1,
				{Method: "POST", Handler: "/users", Status: "201"}:     1,
				{Method: "GET", Handler: "/health", Status: "200"}:     1,
				{Method: "GET", Handler: "none", Status: "404"}:        2,
				{Method: "DELETE", Handler: "none", Status: "405"}:     1,
			})

			p := routertest.NewProvider(t)
			routertest.Drive(t, otelhttp.NewHandler(tc.chain(newMux(p.MetricsHandler())), "users",
				otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter())), traffic)
			routertest.Same(t, routertest.Get(t, p.MetricsHandler()), want)
		})
	}
}
