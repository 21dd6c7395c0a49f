// Package derived connects a push reader that sends the scrape endpoint's
// series (http_requests_total and the rest, rather than the semantic
// convention instruments) to the endpoint that derives them, without a
// public name for either side.
package derived

import sdkmetric "go.opentelemetry.io/otel/sdk/metric"

// Source is the scrape endpoint's reader: its producer yields what a
// scrape serves, the derived series included, collected through the
// reader.
type Source interface {
	DerivedProducer() sdkmetric.Producer
}

// Sink is a push reader that sends a Source's series instead of the
// instruments of the provider it is registered with. It belongs on a
// MeterProvider of its own, which carries the resource and no
// instruments, and must be shut down before the Source's provider: its
// last export collects through the Source.
type Sink interface {
	sdkmetric.Reader
	UseDerived(sdkmetric.Producer)
}
