package dashboard_test

import (
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/otelmetrics/dashboard"
)

// A nil logger or an empty instrument name keeps the default: the
// dashboard reads http.server.request.duration, and a snapshot that fails
// once its provider is shut down is logged without a panic.
func TestNilOptionsKeepTheDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  dashboard.Option
	}{
		{"WithLogger", dashboard.WithLogger(nil)},
		{"WithInstrument", dashboard.WithInstrument("")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
			h, err := mp.Meter("test").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration)
			if err != nil {
				t.Fatal(err)
			}
			d, err := dashboard.New(r, dashboard.Config{Interval: 10 * time.Millisecond, Window: time.Second}, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			snapshot(t, d)
			record(h, "GET", "/r", 200, 0.1, 3)
			snapshot(t, d)
			if got := d.Summary().Totals.Requests; got != 3 {
				t.Errorf("%d requests, want 3", got)
			}
			// Collecting from a shut-down provider fails: the background
			// snapshots log it.
			if err := mp.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			d.Start()
			time.Sleep(30 * time.Millisecond)
			d.Stop()
		})
	}
}
