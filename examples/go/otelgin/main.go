// Command otelgin measures a gin-gonic/gin engine instrumented with
// OpenTelemetry's otelgin alone, with no middleware of metricsbridge's:
// given the bridge's MeterProvider, otelgin's http.server.request.duration
// (with gin's route path as http.route) becomes http_requests_total and
// http_request_duration_seconds on the bridge's scrape endpoint, the same
// series the bridge's own middleware gives.
//
//	cd examples/go/otelgin
//	export JWT_SECRET_KEY=$(openssl rand -hex 32)
//	go run . &
//	curl 127.0.0.1:4444/users/1
//	TOKEN=$(go run ../../../cmd/metricsbridge token create --username prometheus@monitoring)
//	curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:4444/metrics/prometheus
//
// Every METRICS_*, HOST, PORT and JWT_* variable of the metricsbridge
// binary applies; ENABLE_METRICS defaults to true here.
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// newRouter routes the program's requests, each through instrument first;
// metrics is the scrape endpoint.
func newRouter(metrics http.Handler, instrument gin.HandlerFunc) http.Handler {
	r := gin.New()
	r.Use(instrument, gin.Recovery())
	r.GET("/users/:id", getUser)
	r.POST("/users", createUser)
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "healthy"}) })
	r.GET("/metrics/prometheus", gin.WrapH(metrics))
	return r
}

var users = map[string]string{"1": "ada", "2": "grace"}

func getUser(c *gin.Context) {
	id := c.Param("id")
	name, ok := users[id]
	if !ok {
		// The route matched; the user does not exist. The handler label
		// stays "/users/:id", status "404".
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "name": name})
}

func createUser(c *gin.Context) {
	c.JSON(http.StatusCreated, gin.H{"id": "3"})
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	serve("otelgin example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		// No middleware of the bridge's: otelgin records every request
		// into the bridge's MeterProvider, and the scrape endpoint derives
		// the same series from it.
		return newRouter(metrics,
			otelgin.Middleware("users", otelgin.WithMeterProvider(p.MeterProvider()), otelgin.WithFilter(p.Filter())))
	})
}
