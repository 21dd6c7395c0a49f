package routes_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/metricsbridge/metricsbridge/otelmetrics/routes"
)

const petstore = `{
  "openapi": "3.1.0",
  "servers": [{"url": "https://api.example.com/v1"}],
  "paths": {
    "/pets": {"get": {}, "post": {}},
    "/pets/{petId}": {"get": {}, "delete": {}},
    "/pets/{petId}/photo.{format}": {"get": {}},
    "/pets/mine/{size}": {"get": {}}
  }
}`

func ExampleFromOpenAPI() {
	table, err := routes.FromOpenAPI(context.Background(), []byte(petstore))
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"/v1/pets", "/v1/pets/42", "/v1/pets/42/photo.jpg", "/v1/pets/mine/photo.png", "/pets/42"} {
		fmt.Printf("GET %s: %q\n", target, table.Match(httptest.NewRequest("GET", target, nil)))
	}
	fmt.Printf("PUT /v1/pets/42: %q\n", table.Match(httptest.NewRequest("PUT", "/v1/pets/42", nil)))
	// The literal segment wins where ServeMux would refuse the pair.
	c := table.Conflicts()
	fmt.Println(c.Count, c.First[0].Winner, "over", c.First[0].Loser)
	// Output:
	// GET /v1/pets: "/v1/pets"
	// GET /v1/pets/42: "/v1/pets/{petId}"
	// GET /v1/pets/42/photo.jpg: "/v1/pets/{petId}/photo.{format}"
	// GET /v1/pets/mine/photo.png: "/v1/pets/mine/{size}"
	// GET /pets/42: ""
	// PUT /v1/pets/42: ""
	// 1 GET /v1/pets/mine/{size} over GET /v1/pets/{petId}/photo.{format}
}

func ExampleNew() {
	table, err := routes.New([]string{"POST /tools/invoke", "GET /servers/{id}/sse", "/files/{path...}"})
	if err != nil {
		panic(err)
	}
	for _, req := range [][2]string{{"GET", "/servers/7/sse"}, {"DELETE", "/files/a/b.txt"}, {"GET", "/tools/invoke"}} {
		fmt.Printf("%s %s: %q\n", req[0], req[1], table.Match(httptest.NewRequest(req[0], req[1], nil)))
	}
	_, err = routes.New([]string{"/a/{x}", "/{y}/b"})
	fmt.Println(errors.Is(err, routes.ErrPattern), strings.SplitAfter(err.Error(), ":")[0])
	// Output:
	// GET /servers/7/sse: "/servers/{id}/sse"
	// DELETE /files/a/b.txt: "/files/{path...}"
	// GET /tools/invoke: ""
	// true route "/{y}/b":
}
