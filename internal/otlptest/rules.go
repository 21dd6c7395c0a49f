package otlptest

import (
	"fmt"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// Rules are what a destination's documentation requires of every export
// it receives; Sink.Violations checks them.
type Rules struct {
	Host, Path string
	// Headers must be present with exactly these values.
	Headers map[string]string
	// Delta requires monotonic sums and histograms in delta temporality.
	Delta bool
	// MinMax requires min and max on every delta histogram point.
	MinMax bool
	// MaxBuckets bounds a histogram point's buckets (0: no limit).
	MaxBuckets int
	// MaxBytes bounds a request's uncompressed body (0: no limit).
	MaxBytes int
}

// Violations returns, one line each, how the exports that arrived break
// r; none arrived is a violation too.
func (s *Sink) Violations(r Rules) []string {
	var out []string
	reqs := s.Requests()
	if len(reqs) == 0 {
		return []string{"no export arrived"}
	}
	for i, req := range reqs {
		at := fmt.Sprintf("export %d: ", i+1)
		if req.Host != r.Host || req.Path != r.Path {
			out = append(out, fmt.Sprintf("%sarrived at %s%s, want %s%s", at, req.Host, req.Path, r.Host, r.Path))
		}
		for k, v := range r.Headers {
			if got := req.Header.Get(k); got != v {
				out = append(out, fmt.Sprintf("%sheader %s is %q, want %q", at, k, got, v))
			}
		}
		if r.MaxBytes > 0 && req.Size > r.MaxBytes {
			out = append(out, fmt.Sprintf("%s%d bytes, more than the %d allowed", at, req.Size, r.MaxBytes))
		}
		for _, rm := range req.Metrics.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					out = append(out, checkMetric(at+m.Name+": ", m, r)...)
				}
			}
		}
	}
	return out
}

func checkMetric(at string, m *metricpb.Metric, r Rules) []string {
	var out []string
	delta := metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	if sum := m.GetSum(); sum != nil && sum.IsMonotonic && r.Delta && sum.AggregationTemporality != delta {
		out = append(out, fmt.Sprintf("%smonotonic sum in %s, want delta", at, sum.AggregationTemporality))
	}
	h := m.GetHistogram()
	if h == nil {
		return out
	}
	if r.Delta && h.AggregationTemporality != delta {
		out = append(out, fmt.Sprintf("%shistogram in %s, want delta", at, h.AggregationTemporality))
	}
	for _, dp := range h.DataPoints {
		if r.MinMax && h.AggregationTemporality == delta && dp.GetCount() > 0 && (dp.Min == nil || dp.Max == nil) {
			out = append(out, at+"delta histogram point without min or max")
		}
		if r.MaxBuckets > 0 && len(dp.BucketCounts) > r.MaxBuckets {
			out = append(out, fmt.Sprintf("%s%d buckets, more than %d", at, len(dp.BucketCounts), r.MaxBuckets))
		}
	}
	return out
}
