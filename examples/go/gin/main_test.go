package main

import (
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
)

// gin's route paths are the handler labels, with a request-copying
// middleware between the bridge and the router; what gin did not route is
// "none".
func TestRoutes(t *testing.T) {
	p := routertest.NewProvider(t)
	routertest.Drive(t, p.Middleware(routertest.RequestID(newRouter(p.MetricsHandler()))), []routertest.Request{
		{Method: "GET", Path: "/users/1", Status: 200},
		{Method: "GET", Path: "/users/1", Status: 200},
		{Method: "GET", Path: "/users/9", Status: 404},
		{Method: "POST", Path: "/users", Status: 201},
		{Method: "GET", Path: "/metrics/prometheus", Status: 200},
		{Method: "GET", Path: "/no/such/path", Status: 404},
		// gin answers 404 where others answer 405, unless
		// HandleMethodNotAllowed is set.
		{Method: "DELETE", Path: "/users/1", Status: 404},
		{Method: "GET", Path: "/users/1/friends", Status: 404},
	})
	routertest.Get(t, p.MetricsHandler()).Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/users/:id", Status: "200"}:          2,
		{Method: "GET", Handler: "/users/:id", Status: "404"}:          1,
		{Method: "POST", Handler: "/users", Status: "201"}:             1,
		{Method: "GET", Handler: "/metrics/prometheus", Status: "200"}: 1,
		{Method: "GET", Handler: "none", Status: "404"}:                2,
		{Method: "DELETE", Handler: "none", Status: "404"}:             1,
	})
}
