package main

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// extractTraceContext makes a W3C traceparent (and tracestate) the
// request's remote span context for next, so that a service with no tracer
// of its own still gets exemplars carrying its callers' trace IDs when the
// caller sampled the trace. The headers are left as they are.
func extractTraceContext(next http.Handler) http.Handler {
	var tc propagation.TraceContext
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Traceparent"]; !ok {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(tc.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
	})
}
