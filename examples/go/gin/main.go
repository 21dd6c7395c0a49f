// Command gin measures a gin-gonic/gin engine with metricsbridge: the
// handler label is gin's route path ("/users/:id"), never the path.
//
//	go run ./gin   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

func main() {
	cfg := otelmetrics.DefaultConfig()
	p, err := otelmetrics.NewProvider(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(cfg.Addr(), p.Middleware(newRouter(p.MetricsHandler()))))
}

// route hands gin's route path to the bridge. Gin knows it before the
// handlers run, so a handler that panics keeps its route; a request gin did
// not route has none and stays handler="none".
func route(c *gin.Context) {
	if path := c.FullPath(); path != "" {
		otelmetrics.SetRoute(c.Request.Context(), path)
	}
	c.Next()
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(route, gin.Recovery())
	r.GET("/users/:id", getUser)
	r.POST("/users", func(c *gin.Context) { c.Status(http.StatusCreated) })
	r.GET("/metrics/prometheus", gin.WrapH(metrics))
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
