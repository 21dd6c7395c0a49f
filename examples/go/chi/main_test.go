package main

import (
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
)

var traffic = []routertest.Request{
	{Method: "GET", Path: "/users/1", Status: 200},
	{Method: "GET", Path: "/users/1", Status: 200},
	{Method: "GET", Path: "/users/9", Status: 404},
	{Method: "POST", Path: "/users", Status: 201},
	{Method: "GET", Path: "/files/a/b.txt", Status: 200},
	{Method: "GET", Path: "/metrics/prometheus", Status: 200},
	{Method: "GET", Path: "/no/such/path", Status: 404},
	{Method: "DELETE", Path: "/users/1", Status: 405},
	{Method: "GET", Path: "/users/1/friends", Status: 404}, // the mount's "/users/*" is no route
	{Method: "GET", Path: "//users/1", Status: 404},        // a ServeMux would redirect it: "none" too
	{Method: "GET", Path: "/x/../users/1", Status: 404},    // likewise
}

// chi's templates are the handler labels, with a request-copying
// middleware between the bridge and the router; what chi did not route is
// "none".
func TestRoutes(t *testing.T) {
	p := routertest.NewProvider(t)
	routertest.Drive(t, p.Middleware(routertest.RequestID(newRouter(p.MetricsHandler()))), traffic)
	routertest.Get(t, p.MetricsHandler()).Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/users/{id}", Status: "200"}:         2,
		{Method: "GET", Handler: "/users/{id}", Status: "404"}:         1,
		{Method: "POST", Handler: "/users", Status: "201"}:             1,
		{Method: "GET", Handler: "/files/*", Status: "200"}:            1,
		{Method: "GET", Handler: "/metrics/prometheus", Status: "200"}: 1,
		{Method: "GET", Handler: "none", Status: "404"}:                4,
		{Method: "DELETE", Handler: "none", Status: "405"}:             1,
	})
}

// The same hook feeds otelhttp's labeler: the router measured by otelhttp
// alone, handed the provider's MeterProvider, scrapes as the bridge's
// middleware does.
func TestOtelhttp(t *testing.T) {
	bridge := routertest.NewProvider(t)
	routertest.Drive(t, bridge.Middleware(routertest.RequestID(newRouter(bridge.MetricsHandler()))), traffic)

	p := routertest.NewProvider(t)
	routertest.Drive(t, otelhttp.NewHandler(routertest.RequestID(newRouter(p.MetricsHandler())), "users",
		otelhttp.WithMeterProvider(p.MeterProvider()), otelhttp.WithFilter(p.Filter())), traffic)

	routertest.Same(t, routertest.Get(t, p.MetricsHandler()), routertest.Get(t, bridge.MetricsHandler()))
}
