package otelmetrics

import (
	"context"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	mbsemconv "github.com/metricsbridge/metricsbridge/internal/semconv"
)

// inFlight counts the requests in flight for http.server.active_requests,
// by the two attributes the conventions give it, http.request.method and
// url.scheme. The counts are plain atomics the SDK observes at collection:
// a synchronous UpDownCounter would cost two SDK measurements a request,
// each an attribute-set lookup, where an atomic add is a few nanoseconds.
// The data the readers see is the same: a non-monotonic cumulative sum.
type inFlight struct {
	counts [len(mbsemconv.Methods)][2]inFlightCount // [method][https]
	attrs  [len(mbsemconv.Methods)][2][]metric.ObserveOption
}

// inFlightCount is padded to a cache line of its own, so requests of
// different methods on different cores do not contend for one.
type inFlightCount struct {
	n atomic.Int64
	// seen: a request of this kind came. Its series is observed from
	// then on, at 0 too, so the gauge falls to 0 rather than vanishing.
	seen atomic.Bool
	_    [64 - 16]byte
}

func newInFlight(m metric.Meter) (*inFlight, error) {
	f := &inFlight{}
	for i, method := range mbsemconv.Methods {
		for j, scheme := range [2]attribute.KeyValue{schemeHTTP, schemeHTTPS} {
			set := attribute.NewSet(mbsemconv.KeyHTTPMethod.String(method), scheme)
			f.attrs[i][j] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
	}
	_, err := m.Int64ObservableUpDownCounter(mbsemconv.InstrumentHTTPServerActive,
		metric.WithUnit("{request}"),
		metric.WithDescription("Number of active HTTP server requests."),
		metric.WithInt64Callback(f.observe))
	if err != nil {
		return nil, err
	}
	return f, nil
}

// start counts r in and returns the count to take it out of when it ends.
func (f *inFlight) start(r *http.Request) *inFlightCount {
	https := 0
	if r.TLS != nil {
		https = 1
	}
	c := &f.counts[methodIndex(r.Method)][https]
	c.n.Add(1)
	if !c.seen.Load() {
		c.seen.Store(true)
	}
	return c
}

func (f *inFlight) observe(_ context.Context, o metric.Int64Observer) error {
	for i := range f.counts {
		for j := range f.counts[i] {
			if c := &f.counts[i][j]; c.seen.Load() {
				o.Observe(c.n.Load(), f.attrs[i][j]...)
			}
		}
	}
	return nil
}
