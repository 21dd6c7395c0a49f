// Command gin measures a gin-gonic/gin engine with metricsbridge. The
// handler label is gin's own route path ("/users/:id"), handed to the
// bridge by a gin middleware, so it survives middleware that copies the
// request.
//
//	cd examples/go/gin
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

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// route hands gin's route path to the bridge. Gin knows it before the
// handlers run, so it is set first and a handler that panics still gets
// its route. A request gin could not route has no full path and stays
// handler="none".
func route(c *gin.Context) {
	if path := c.FullPath(); path != "" {
		otelmetrics.SetRoute(c.Request.Context(), path)
	}
	c.Next()
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery(), route)
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
	serve("gin example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		return p.Middleware(newRouter(metrics))
	})
}
