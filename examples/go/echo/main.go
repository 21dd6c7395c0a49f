// Command echo measures a labstack/echo (v4) server with metricsbridge. The
// handler label is echo's own route path ("/users/:id"), handed to the
// bridge by an echo middleware, so it survives middleware that copies the
// request.
//
//	cd examples/go/echo
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

	"github.com/labstack/echo/v4"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// route hands echo's route path to the bridge. Echo has routed the
// request before middleware added with Use runs. When nothing matched the
// path is empty (404), or it is the path whose methods did not match and
// echo has set the Allow header aside for its 405: either way the request
// stays handler="none".
func route(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if path := c.Path(); path != "" && c.Get(echo.ContextKeyHeaderAllow) == nil {
			otelmetrics.SetRoute(c.Request().Context(), path)
		}
		return next(c)
	}
}

// newRouter routes the program's requests; metrics is the scrape endpoint.
func newRouter(metrics http.Handler) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(route)
	e.GET("/users/:id", getUser)
	e.POST("/users", createUser)
	e.GET("/health", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "healthy"})
	})
	e.GET("/metrics/prometheus", echo.WrapHandler(metrics))
	return e
}

var users = map[string]string{"1": "ada", "2": "grace"}

func getUser(c echo.Context) error {
	id := c.Param("id")
	name, ok := users[id]
	if !ok {
		// The route matched; the user does not exist. The handler label
		// stays "/users/:id", status "404".
		return echo.NewHTTPError(http.StatusNotFound, "no such user")
	}
	return c.JSON(http.StatusOK, map[string]string{"id": id, "name": name})
}

func createUser(c echo.Context) error {
	return c.JSON(http.StatusCreated, map[string]string{"id": "3"})
}

func main() {
	serve("echo example", func(p *otelmetrics.Provider, metrics http.Handler) http.Handler {
		return p.Middleware(newRouter(metrics))
	})
}
