// Command echo measures a labstack/echo (v4) server with metricsbridge: the
// handler label is echo's route path ("/users/:id"), never the path.
//
//	go run ./echo   # in examples/go
//	curl 127.0.0.1:4444/users/1; curl 127.0.0.1:4444/metrics/prometheus
//
// servemux shows settings, authentication and shutdown.
package main

import (
	"log"
	"net/http"

	"github.com/labstack/echo/v4"

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

// route hands echo's route path to the bridge; echo has routed the request
// before its middleware runs. The path is empty when nothing matched (404),
// and echo sets the Allow header aside for a method that did not (405):
// either way the request stays handler="none".
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
	e.Use(route)
	e.GET("/users/:id", getUser)
	e.POST("/users", func(c echo.Context) error { return c.NoContent(http.StatusCreated) })
	e.GET("/metrics/prometheus", echo.WrapHandler(metrics))
	return e
}

func getUser(c echo.Context) error {
	if c.Param("id") != "1" {
		// The route matched: handler="/users/:id", status="404".
		return echo.NewHTTPError(http.StatusNotFound, "no such user")
	}
	return c.String(http.StatusOK, "user 1\n")
}
