package views

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/trace"

	"github.com/metricsbridge/metricsbridge/internal/buckets"
)

func TestLazyExemplarReservoirs(t *testing.T) {
	agg := sdkmetric.AggregationExplicitBucketHistogram{Boundaries: buckets.Default()}
	r := lazyExemplarReservoirs(agg)(attribute.NewSet())

	// A pooled buffer with room in it, as the SDK passes.
	dest := make([]exemplar.Exemplar, 3, 16)
	r.Collect(&dest)
	if len(dest) != 0 || cap(dest) != 0 {
		t.Fatalf("empty reservoir collected len %d cap %d, want 0 and 0", len(dest), cap(dest))
	}

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1},
		SpanID:     trace.SpanID{2},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	now := time.Now()
	r.Offer(ctx, now, exemplar.NewValue(0.3), nil)
	for range 2 { // cumulative: the exemplar stays
		r.Collect(&dest)
		if len(dest) != 1 {
			t.Fatalf("collected %d exemplars, want 1", len(dest))
		}
		if got := dest[0]; got.Value.Float64() != 0.3 || trace.TraceID(got.TraceID) != sc.TraceID() || !got.Time.Equal(now) {
			t.Fatalf("exemplar %+v, want value 0.3 and trace %s", got, sc.TraceID())
		}
	}
}
