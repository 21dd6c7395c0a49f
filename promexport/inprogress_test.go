package promexport_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge/promexport"
	"github.com/metricsbridge/metricsbridge/views"
)

// http.server.active_requests, recorded by any instrumentation (here two,
// with the synchronous UpDownCounter the conventions describe), becomes
// http_requests_inprogress{method} summed over scheme and scope, under
// the prefix, in the instrumentator naming; the semconv naming serves it
// under its own name, both both.
func TestInProgressDerived(t *testing.T) {
	for _, tc := range []struct {
		names     promexport.Names
		want, not []string
	}{
		{promexport.NamesInstrumentator,
			[]string{`shop_http_requests_inprogress{method="GET"} 3`, `shop_http_requests_inprogress{method="_OTHER"} 0`},
			[]string{"http_server_active_requests"}},
		{promexport.NamesSemconv,
			[]string{`http_server_active_requests{http_request_method="GET",url_scheme="http"} 2`, `http_server_active_requests{http_request_method="GET",url_scheme="https"} 1`},
			[]string{"inprogress"}},
		{promexport.NamesBoth,
			[]string{`shop_http_requests_inprogress{method="GET"} 3`, `http_server_active_requests{http_request_method="GET",url_scheme="https"} 1`},
			nil},
	} {
		t.Run(string(tc.names), func(t *testing.T) {
			exp, err := promexport.New(promexport.WithNames(tc.names), promexport.WithPrefix("shop", ""))
			if err != nil {
				t.Fatal(err)
			}
			vs, err := views.New()
			if err != nil {
				t.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithView(vs...))
			t.Cleanup(func() { _ = mp.Shutdown(t.Context()); _ = exp.Shutdown(t.Context()) })
			add := func(scope, method, scheme string, n int64) {
				c, err := mp.Meter(scope).Int64UpDownCounter("http.server.active_requests", metric.WithUnit("{request}"))
				if err != nil {
					t.Fatal(err)
				}
				c.Add(t.Context(), n, metric.WithAttributes(attribute.String("http.request.method", method),
					attribute.String("url.scheme", scheme), attribute.String("server.address", "a.example")))
			}
			add("one", "GET", "http", 2)
			add("two", "GET", "https", 1)
			add("two", "get", "http", 1)
			add("two", "get", "http", -1)
			code, text := scrapeOnce(t, exp, "")
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			got := samples(t, text)
			mustContain(t, got, tc.want...)
			for _, n := range tc.not {
				if strings.Contains(text, n) {
					t.Errorf("%s served:\n%s", n, text)
				}
			}
			if strings.Contains(text, "server_address") {
				t.Errorf("server.address served:\n%s", text)
			}
			if tc.names != promexport.NamesSemconv && !strings.Contains(text, "# TYPE shop_http_requests_inprogress gauge") {
				t.Errorf("not a gauge:\n%s", text)
			}
		})
	}
}
