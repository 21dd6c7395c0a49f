package promexport_test

import (
	"context"
	"math"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// nativeBucket is one bucket of a native histogram: the values in
// (lower, upper].
type nativeBucket struct {
	lower, upper float64
	count        uint64
}

// nativeBuckets decodes a native histogram's positive spans and deltas.
func nativeBuckets(h *dto.Histogram) []nativeBucket {
	base := math.Exp2(math.Exp2(-float64(h.GetSchema())))
	var out []nativeBucket
	var idx int32
	var count int64
	d := 0
	for i, s := range h.GetPositiveSpan() {
		if i == 0 {
			idx = s.GetOffset()
		} else {
			idx += s.GetOffset()
		}
		for range s.GetLength() {
			count += h.GetPositiveDelta()[d]
			d++
			// Bucket idx holds (base^(idx-1), base^idx].
			out = append(out, nativeBucket{math.Pow(base, float64(idx-1)), math.Pow(base, float64(idx)), uint64(count)})
			idx++
		}
	}
	return out
}

// A duration instrument in any time unit the endpoint converts is served
// in seconds in native mode as in classic mode: _sum 0.25 for 250 ms, not
// 250, and every request in a bucket that holds its duration in seconds to
// within the documented bound, on every scrape.
func TestNativeHistogramsInSeconds(t *testing.T) {
	seconds := []float64{0.25, 0.003, 1.7, 42}
	for _, tc := range []struct {
		name string
		unit string
		per  float64 // seconds in one unit
	}{
		{"seconds", "s", 1},
		{"milliseconds", "ms", 1e-3},
		{"microseconds", "us", 1e-6},
		{"microseconds with the micro sign", "µs", 1e-6},
		{"nanoseconds", "ns", 1e-9},
		{"minutes", "min", 60},
		{"hours", "h", 3600},
	} {
		for _, native := range []bool{false, true} {
			name := tc.name + "/classic"
			if native {
				name = tc.name + "/native"
			}
			t.Run(name, func(t *testing.T) {
				exp, err := promexport.New(promexport.WithNames(promexport.NamesBoth))
				if err != nil {
					t.Fatal(err)
				}
				opts := []sdkmetric.Option{sdkmetric.WithReader(exp.Reader())}
				if native {
					opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(
						sdkmetric.Instrument{Name: mbsemconv.InstrumentHTTPServerDuration},
						sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
					)))
				}
				mp := sdkmetric.NewMeterProvider(opts...)
				t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = exp.Shutdown(context.Background()) })
				h, err := mp.Meter("other-instrumentation").Float64Histogram(mbsemconv.InstrumentHTTPServerDuration, metric.WithUnit(tc.unit))
				if err != nil {
					t.Fatal(err)
				}
				attrs := metric.WithAttributes(mbsemconv.KeyHTTPMethod.String("GET"), mbsemconv.KeyHTTPRoute.String("/x"), mbsemconv.KeyHTTPStatus.Int(200))
				var want float64
				for _, s := range seconds {
					h.Record(context.Background(), s/tc.per, attrs)
					want += s
				}
				// Twice: a conversion done in place on data the next
				// collection reuses would show on the second scrape.
				for range 2 {
					fams, text := scrapeFamilies(t, exp, acceptProto)
					for _, family := range []string{"http_request_duration_seconds", "http_server_request_duration_seconds"} {
						f := fams[family]
						if f == nil || len(f.GetMetric()) != 1 {
							t.Fatalf("no single %s series in\n%s", family, text)
						}
						hist := f.GetMetric()[0].GetHistogram()
						if got := hist.GetSampleSum(); math.Abs(got-want) > 1e-9*want {
							t.Errorf("%s_sum %v, want %v (seconds)", family, got, want)
						}
						if hist.GetSampleCount() != uint64(len(seconds)) {
							t.Errorf("%s_count %d, want %d", family, hist.GetSampleCount(), len(seconds))
						}
						if native != (hist.Schema != nil) {
							t.Fatalf("%s: schema %v in native=%v", family, hist.Schema, native)
						}
						if native {
							checkNativeBuckets(t, family, hist, seconds)
						}
					}
				}
			})
		}
	}
}

// checkNativeBuckets checks that the buckets hold as many requests as
// were recorded, each in a bucket that holds its duration to within half
// a bucket of scale 3 (a factor 2^(1/16), 4.4%) or of the histogram's own
// scale when that is coarser: the bound the rescaling documents.
func checkNativeBuckets(t *testing.T, family string, h *dto.Histogram, values []float64) {
	t.Helper()
	buckets := nativeBuckets(h)
	var total uint64
	for _, b := range buckets {
		total += b.count
	}
	if total+h.GetZeroCount() != uint64(len(values)) {
		t.Errorf("%s: buckets hold %d + zero %d, recorded %d", family, total, h.GetZeroCount(), len(values))
	}
	slack := math.Exp2(math.Exp2(-float64(min(h.GetSchema(), 3) + 1)))
	// Each value takes the lowest bucket left that may hold it.
	left := slices.Clone(buckets)
	for _, v := range slices.Sorted(slices.Values(values)) {
		i := slices.IndexFunc(left, func(b nativeBucket) bool { return b.count > 0 && b.lower/slack < v && v <= b.upper*slack })
		if i < 0 {
			t.Errorf("%s: no bucket holds %v s within a factor %v: %+v", family, v, slack, buckets)
			continue
		}
		left[i].count--
	}
}
