// Package buckets holds the histogram layouts the module's packages share:
// the default latency boundaries and the bounds every setting of them is
// checked against, so views, otelmetrics and promexport agree.
package buckets

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("invalid histogram layout")

// defaults contain the documented 0.1, 0.5 and 1, so the usual
// histogram_quantile queries work.
var defaults = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Default returns a fresh copy of the default latency boundaries in seconds.
func Default() []float64 { d := defaults; return d[:] }

// Max bounds the bucket boundaries of a histogram. Each boundary is one more
// series per label set on every scrape; dashboards use a dozen or two, and
// 128 leaves room without letting a typo multiply the series.
const Max = 128

// Validate reports whether b can be used as histogram boundaries: 1 to Max
// of them, positive, finite and strictly increasing.
func Validate(b []float64) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: at least one bucket boundary is required", ErrInvalid)
	}
	if len(b) > Max {
		return fmt.Errorf("%w: %d bucket boundaries: at most %d are accepted", ErrInvalid, len(b), Max)
	}
	for i, v := range b {
		if !(v > 0) || math.IsInf(v, 1) {
			return fmt.Errorf("%w: bucket boundary %g must be a positive finite number", ErrInvalid, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("%w: bucket boundaries must be strictly increasing (%g after %g)", ErrInvalid, v, b[i-1])
		}
	}
	return nil
}

// Bounds and default of a native histogram's bucket count. 160 is the
// OpenTelemetry SDK's default and client_golang's usual limit; at the top,
// 4096 buckets hold a millisecond-to-100-second range at Prometheus' finest
// scale, 8, and bound a series to 64 kB. Below 8 the scale would fall so low
// for a wide latency range that Prometheus' lowest scale, -4, could not hold
// it.
const (
	NativeDefault = 160
	NativeMin     = 8
	NativeMax     = 4096
)

// ValidateNative reports whether n is a valid native histogram bucket count.
func ValidateNative(n int) error {
	if n < NativeMin || n > NativeMax {
		return fmt.Errorf("%w: native histogram bucket count %d is outside [%d, %d]", ErrInvalid, n, NativeMin, NativeMax)
	}
	return nil
}
