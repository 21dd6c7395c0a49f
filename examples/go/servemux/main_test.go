package main

import (
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// The pattern the mux matched is the handler label even with a
// request-copying middleware between the bridge and the mux, and a path
// the mux does not know is "none", never the path itself.
func TestRoutes(t *testing.T) {
	p := routertest.NewProvider(t)
	h := p.Middleware(routertest.RequestID(otelmetrics.RoutePattern(newMux(p.MetricsHandler()))))
	routertest.Drive(t, h, []routertest.Request{
		{Method: "GET", Path: "/hello/gopher", Status: 200},
		{Method: "GET", Path: "/hello/ada", Status: 200},
		{Method: "GET", Path: "/status/503", Status: 503},
		{Method: "GET", Path: "/status/abc", Status: 400},
		{Method: "GET", Path: "/health", Status: 200},
		{Method: "GET", Path: "/no/such/path", Status: 404},
		{Method: "POST", Path: "/health", Status: 405},
	})
	routertest.Get(t, p.MetricsHandler()).Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/hello/{name}", Status: "200"}:  2,
		{Method: "GET", Handler: "/status/{code}", Status: "503"}: 1,
		{Method: "GET", Handler: "/status/{code}", Status: "400"}: 1,
		{Method: "GET", Handler: "/health", Status: "200"}:        1,
		{Method: "GET", Handler: "none", Status: "404"}:           1,
		{Method: "POST", Handler: "none", Status: "405"}:          1,
	})
}
