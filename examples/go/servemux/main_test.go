package main

import (
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
)

// The pattern the mux matched is the handler label even with a
// request-copying middleware between the bridge and the mux, and a path the
// mux does not know is "none", never the path itself.
func TestRoutes(t *testing.T) {
	p := routertest.NewProvider(t)
	routertest.Drive(t, p.Middleware(routertest.RequestID(newRouter(p.MetricsHandler()))), []routertest.Request{
		{Method: "GET", Path: "/hello/gopher", Status: 200},
		{Method: "GET", Path: "/hello/ada", Status: 200},
		{Method: "GET", Path: "/status/503", Status: 503},
		{Method: "GET", Path: "/status/abc", Status: 200},
		{Method: "GET", Path: "/status/1000", Status: 599},
		{Method: "GET", Path: "/health", Status: 200},
		{Method: "GET", Path: "/metrics/prometheus", Status: 200},
		{Method: "GET", Path: "/no/such/path", Status: 404},
		{Method: "POST", Path: "/health", Status: 405},
	})
	routertest.Get(t, p.MetricsHandler()).Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/hello/{name}", Status: "200"}:       2,
		{Method: "GET", Handler: "/status/{code}", Status: "503"}:      1,
		{Method: "GET", Handler: "/status/{code}", Status: "200"}:      1,
		{Method: "GET", Handler: "/status/{code}", Status: "599"}:      1,
		{Method: "GET", Handler: "/health", Status: "200"}:             1,
		{Method: "GET", Handler: "/metrics/prometheus", Status: "200"}: 1,
		{Method: "GET", Handler: "none", Status: "404"}:                1,
		{Method: "POST", Handler: "none", Status: "405"}:               1,
	})
}
