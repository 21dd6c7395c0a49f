package main

import (
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
)

// otelhttp alone, handed the provider's MeterProvider, gives the series
// the bridge's middleware gives around a ServeMux (see ../servemux): the
// mux's patterns, "none" for what it did not route.
func TestRoutes(t *testing.T) {
	p := routertest.NewProvider(t)
	routertest.Drive(t, newHandler(p), []routertest.Request{
		{Method: "GET", Path: "/users/1", Status: 200},
		{Method: "GET", Path: "/users/1", Status: 200},
		{Method: "GET", Path: "/users/9", Status: 404},
		{Method: "POST", Path: "/users", Status: 201},
		{Method: "GET", Path: "/metrics/prometheus", Status: 200},
		{Method: "GET", Path: "/no/such/path", Status: 404},
		{Method: "GET", Path: "/users/1/friends", Status: 404},
		{Method: "DELETE", Path: "/users/1", Status: 405},
	})
	routertest.Get(t, p.MetricsHandler()).Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/users/{id}", Status: "200"}:         2,
		{Method: "GET", Handler: "/users/{id}", Status: "404"}:         1,
		{Method: "POST", Handler: "/users", Status: "201"}:             1,
		{Method: "GET", Handler: "/metrics/prometheus", Status: "200"}: 1,
		{Method: "GET", Handler: "none", Status: "404"}:                2,
		{Method: "DELETE", Handler: "none", Status: "405"}:             1,
	})
}
