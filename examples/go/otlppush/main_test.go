package main

import (
	"context"
	"maps"
	"testing"

	"github.com/metricsbridge/metricsbridge/internal/otlptest"
	"github.com/metricsbridge/metricsbridge/internal/routertest"
)

// The program's provider pushes each request to the OTLP endpoint its
// variables name, as http.server.request.duration with the mux's pattern
// as http.route and no route for what the mux did not serve; shutting the
// provider down pushes what the interval had not sent yet.
func TestPush(t *testing.T) {
	sink := otlptest.NewSink(t, false)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL()}
	p, err := newProvider(t.Context(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	routertest.Drive(t, newHandler(p), []routertest.Request{
		{Method: "GET", Path: "/orders/1", Status: 200},
		{Method: "GET", Path: "/orders/2", Status: 200},
		{Method: "GET", Path: "/no/such/path", Status: 404},
	})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	points, _ := sink.Histograms("http.server.request.duration")
	for _, dp := range points {
		a := otlptest.Attrs(dp.Attributes)
		got[a["http.request.method"]+" "+a["http.route"]+" "+a["http.response.status_code"]] += int64(dp.GetCount())
	}
	want := map[string]int64{"GET /orders/{id} 200": 2, "GET  404": 1}
	if !maps.Equal(got, want) {
		t.Errorf("pushed requests %v, want %v", got, want)
	}
}
