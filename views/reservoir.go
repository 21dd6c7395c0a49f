package views

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
)

// lazyExemplarReservoirs selects the SDK's default exemplar reservoir for
// an aggregation but creates it only when the first measurement is
// sampled.
//
// The SDK gives every attribute set its reservoir up front: an explicit
// bucket histogram gets one slot per bucket, each reset with three random
// draws on every collection, and the collection copies the slots out even
// when none holds an exemplar. With exemplars on and most requests
// untraced (or traced but not sampled), that was a third of a scrape's
// cost and half the memory held per series, for nothing. An unused
// lazy reservoir costs one nil check per collection and no memory besides
// its own header; once a sampled request arrives it behaves exactly as
// the default one.
func lazyExemplarReservoirs(agg sdkmetric.Aggregation) exemplar.ReservoirProvider {
	provider := sdkmetric.DefaultExemplarReservoirProviderSelector(agg)
	return func(attrs attribute.Set) exemplar.Reservoir {
		return &lazyReservoir{provider: provider, attrs: attrs}
	}
}

// lazyReservoir is not marked concurrent-safe, so the SDK serialises its
// Offer and Collect calls: Offer's creation of r needs no lock of its own.
// Offer is only reached for sampled measurements, so the lock is not on
// the path of an ordinary request.
type lazyReservoir struct {
	provider exemplar.ReservoirProvider
	attrs    attribute.Set
	r        exemplar.Reservoir // nil until a measurement is sampled
}

func (l *lazyReservoir) Offer(ctx context.Context, t time.Time, v exemplar.Value, a []attribute.KeyValue) {
	if l.r == nil {
		l.r = l.provider(l.attrs)
	}
	l.r.Offer(ctx, t, v, a)
}

func (l *lazyReservoir) Collect(dest *[]exemplar.Exemplar) {
	if l.r == nil {
		// No capacity either: the SDK sizes the point's exemplar slice
		// after dest's capacity, so a reused buffer would allocate an
		// empty slice per point and collection.
		*dest = (*dest)[:0:0]
		return
	}
	l.r.Collect(dest)
}
