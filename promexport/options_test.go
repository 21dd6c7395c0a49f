package promexport_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// A nil logger, registry or bucket list keeps the default: the endpoint
// serves, the default buckets are used, and the overflow warning, logged
// on the first scrape past the series limit, finds a logger.
func TestNilOptionsKeepTheDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  promexport.Option
	}{
		{"WithLogger", promexport.WithLogger(nil)},
		{"WithRegistry", promexport.WithRegistry(nil)},
		{"WithBuckets", promexport.WithBuckets(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := promexport.New(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(t.Context())
			// A limit of 3 keeps two route series and overflows the rest.
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithCardinalityLimit(3))
			defer mp.Shutdown(t.Context())
			h, err := mp.Meter("test").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				h.Record(t.Context(), 0.2, metric.WithAttributes(
					attribute.String("http.request.method", "GET"),
					attribute.String("http.route", "/r"+strconv.Itoa(i)),
					attribute.Int("http.response.status_code", 200)))
			}
			rec := httptest.NewRecorder()
			exp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
			text := rec.Body.String()
			for _, want := range []string{
				// The default boundaries, onto which the SDK's are re-bucketed.
				`http_request_duration_seconds_bucket{handler="/r0",method="GET",le="0.005"} 0`,
				`http_request_duration_seconds_bucket{handler="/r0",method="GET",le="10"} 1`,
				`otel_metric_overflow="true"`,
				"metricsbridge_series_overflow_total 3",
			} {
				if rec.Code != http.StatusOK || !strings.Contains(text, want) {
					t.Errorf("status %d, no %s in\n%s", rec.Code, want, text)
				}
			}
		})
	}
}

// A bad option is a configuration error like any other of the module's.
func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  promexport.Option
		want string
	}{
		{"names", promexport.WithNames("seed"), `names "seed"`},
		{"buckets", promexport.WithBuckets([]float64{1, 0.5}), "strictly increasing"},
		{"prefix", promexport.WithPrefix("a__b", ""), `namespace "a__b"`},
		{"native buckets", promexport.WithNativeMaxBuckets(1), "native"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := promexport.New(tc.opt)
			if !errors.Is(err, promexport.ErrConfig) || !errors.Is(err, metricsbridge.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want ErrConfig and %q", err, tc.want)
			}
		})
	}
}
