// Command otelgin measures a gin-gonic/gin engine with OpenTelemetry's
// otelgin and no middleware of metricsbridge's: handed the provider's
// MeterProvider, otelgin's http.server.request.duration (with gin's route
// path as http.route) becomes http_requests_total and
// http_request_duration_seconds on the scrape endpoint, the series the
// bridge's own middleware gives.
//
//	go run ./otelgin   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	cfg := otelmetrics.DefaultConfig()
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(cfg.Addr(), newHandler(p)))
}

// newHandler has otelgin record requests into p's MeterProvider, leaving
// out those the bridge's middleware would (p.Filter). otelgin reads gin's
// route path itself: no hook is needed.
func newHandler(p *otelmetrics.Provider) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(otelgin.Middleware("users", otelgin.WithMeterProvider(p.MeterProvider()), otelgin.WithFilter(p.Filter())),
		gin.Recovery())
	r.GET("/users/:id", getUser)
	r.POST("/users", func(c *gin.Context) { c.Status(http.StatusCreated) })
	r.GET("/metrics/prometheus", gin.WrapH(p.MetricsHandler()))
	return r
}

func getUser(c *gin.Context) {
	if c.Param("id") != "1" {
		// The route matched: handler="/users/:id", status="404".
		c.String(http.StatusNotFound, "no such user\n")
		return
	}
	c.String(http.StatusOK, "user 1\n")
}
