package main

import (
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"github.com/metricsbridge/metricsbridge/internal/routertest"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func init() { gin.SetMode(gin.ReleaseMode) }

var traffic = []routertest.Request{
	{Method: "GET", Path: "/users/1", Status: 200},
	{Method: "GET", Path: "/users/2", Status: 200},
	{Method: "GET", Path: "/users/9", Status: 404},
	{Method: "POST", Path: "/users", Status: 201},
	{Method: "GET", Path: "/health", Status: 200},
	{Method: "GET", Path: "/no/such/path", Status: 404},
	{Method: "DELETE", Path: "/users/1", Status: 404},
	{Method: "PATCH", Path: "/users/1", Status: 404},
}

// route is the gin example's hook, for the bridge's middleware to compare
// with.
func route(c *gin.Context) {
	if path := c.FullPath(); path != "" {
		otelmetrics.SetRoute(c.Request.Context(), path)
	}
	c.Next()
}

// otelgin alone, handed the bridge's MeterProvider, scrapes as the
// bridge's middleware with the gin hook does for the same traffic, with a
// request-copying middleware in front of both.
func TestSameAsBridge(t *testing.T) {
	bridge := routertest.NewProvider(t)
	routertest.Drive(t, bridge.Middleware(routertest.RequestID(newRouter(bridge.MetricsHandler(), route))), traffic)
	want := routertest.Get(t, bridge.MetricsHandler())
	want.Check(t, map[routertest.Series]float64{
		{Method: "GET", Handler: "/users/:id", Status: "200"}: 2,
		{Method: "GET", Handler: "/users/:id", Status: "404"}: 1,
		{Method: "POST", Handler: "/users", Status: "201"}:    1,
		{Method: "GET", Handler: "/health", Status: "200"}:    1,
		{Method: "GET", Handler: "none", Status: "404"}:       1,
		{Method: "DELETE", Handler: "none", Status: "404"}:    1,
		{Method: "PATCH", Handler: "none", Status: "404"}:     1,
	})

	p := routertest.NewProvider(t)
	routertest.Drive(t, routertest.RequestID(newRouter(p.MetricsHandler(),
		otelgin.Middleware("users", otelgin.WithMeterProvider(p.MeterProvider()), otelgin.WithFilter(p.Filter())))), traffic)
	routertest.Same(t, routertest.Get(t, p.MetricsHandler()), want)
}
