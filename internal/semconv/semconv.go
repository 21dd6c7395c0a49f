// Package semconv holds the vocabulary of the OpenTelemetry HTTP semantic
// conventions that several of the module's packages share, so that each
// fact is written once.
package semconv

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelsemconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Instruments of the OpenTelemetry HTTP semantic conventions. The bridge's
// middleware records InstrumentHTTPServerDuration; otelhttp, otelgin and any
// other instrumentation given the bridge's MeterProvider record it too, and
// the views below apply to it whatever the instrumentation scope.
const (
	InstrumentHTTPServerDuration         = "http.server.request.duration"
	InstrumentHTTPServerRequestBodySize  = "http.server.request.body.size"
	InstrumentHTTPServerResponseBodySize = "http.server.response.body.size"
	// InstrumentHTTPServerActive is the UpDownCounter of requests in
	// flight, by KeyHTTPMethod and KeyURLScheme only: the conventions
	// leave http.route off it, since a request is counted before any
	// router has matched it.
	InstrumentHTTPServerActive = "http.server.active_requests"
)

// Instruments of metricsbridge's own.
const (
	InstrumentInfo         = "metricsbridge.app.info"
	InstrumentAuthFailures = "metricsbridge.auth.failures"
	InstrumentOTLPExports  = "metricsbridge.otlp.exports"
	InstrumentOTLPRejected = "metricsbridge.otlp.rejected_data_points"
	InstrumentOTLPPending  = "metricsbridge.otlp.pending_data_points"
	InstrumentOTLPDropped  = "metricsbridge.otlp.dropped_data_points"
	InstrumentUnrouted     = "metricsbridge.http.server.unrouted"
)

// Attribute keys of http.server.request.duration that the views let
// through. Everything else an instrumentation records (server.address,
// server.port, network.protocol.*, user_agent.*, client.address) is
// dropped before aggregation, so it cannot multiply series.
const (
	KeyHTTPMethod = otelsemconv.HTTPRequestMethodKey
	KeyHTTPRoute  = otelsemconv.HTTPRouteKey
	KeyHTTPStatus = otelsemconv.HTTPResponseStatusCodeKey
	KeyURLScheme  = otelsemconv.URLSchemeKey
	KeyErrorType  = otelsemconv.ErrorTypeKey
)

// HandlerNone is the handler label of requests that matched no route: the
// histogram points without http.route.
const HandlerNone = "none"

// Label names of the Prometheus series in the Python gateway's dialect,
// derived from http.server.request.duration at the scrape endpoint, and the
// attribute keys of metricsbridge's own instruments.
const (
	KeyMethod  = attribute.Key("method")
	KeyHandler = attribute.Key("handler")
	KeyStatus  = attribute.Key("status")
	KeyVersion = attribute.Key("version")
	// KeyReason says why the metrics endpoint refused a scrape.
	KeyReason = attribute.Key("reason")
	// KeyResult is "success", "partial" or "failure" on the OTLP export counter.
	KeyResult = attribute.Key("result")
	// KeyOverflow marks the one series the SDK keeps for attribute sets
	// beyond the cardinality limit.
	KeyOverflow = attribute.Key("otel.metric.overflow")
)

// Exported names, before the prefix. The Prometheus exporter appends
// "_total" to counters and "_seconds" to histograms in unit "s".
const (
	NameRequests = "http_requests"
	NameDuration = "http_request_duration"
	// NameInProgress is prometheus-fastapi-instrumentator's gauge of
	// requests in flight, derived from InstrumentHTTPServerActive.
	NameInProgress = "http_requests_inprogress"
	// NameActiveSemconv is InstrumentHTTPServerActive as the OTel
	// exporter names it.
	NameActiveSemconv = "http_server_active_requests"
	NameOverflow      = "metricsbridge_series_overflow"
	// NameCollectionErrors counts scrapes whose collection returned an
	// error (a failing callback); the rest of the data is still served.
	NameCollectionErrors = "metricsbridge_collection_errors"
	NameInfo             = "app_info"
	NameAuth             = "metricsbridge_auth_failures"
	NameExports          = "metricsbridge_otlp_exports"
	NameRejected         = "metricsbridge_otlp_rejected_data_points"
	NamePending          = "metricsbridge_otlp_pending_data_points"
	NameDropped          = "metricsbridge_otlp_dropped_data_points"
	NameUnrouted         = "metricsbridge_unrouted_requests"
)

// Route turns a ServeMux pattern, "[METHOD ][HOST]/path", into the value
// of http.route: its path. A template that is already a path is returned
// as it is; one with no path gives "".
func Route(pattern string) string {
	i := strings.IndexByte(pattern, '/')
	if i < 0 {
		return ""
	}
	return pattern[i:]
}

// MethodOther is http.request.method for any method that is not exactly
// a standard one, so bogus methods cannot add series.
const MethodOther = "_OTHER"

// Methods are the values of http.request.method: the standard methods,
// and at index 0 MethodOther.
var Methods = [...]string{MethodOther, "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// MethodIndex returns the index in Methods of m, or 0 when m is not
// exactly a standard method. Methods are case-sensitive (RFC 9110,
// section 9.1) and net/http's ServeMux compares them exactly, so "get"
// is answered 405 where GET would be routed; the conventions ask for such
// a method to be recorded as _OTHER, which keeps a misbehaving client out
// of the GET series.
func MethodIndex(m string) int {
	switch m { // the most frequent first
	case "GET":
		return 1
	case "POST":
		return 3
	}
	for i := 1; i < len(Methods); i++ {
		if m == Methods[i] {
			return i
		}
	}
	return 0
}

// Method returns the http.request.method value of m.
func Method(m string) string { return Methods[MethodIndex(m)] }

// MethodIndexFold is MethodIndex ignoring ASCII case. It is not for
// recording a request: only to tell a user that a spelling ("get" in a
// route pattern) means a standard method but matches no request.
func MethodIndexFold(m string) int {
	for i := 1; i < len(Methods); i++ {
		if len(m) == len(Methods[i]) && equalFoldASCII(m, Methods[i]) {
			return i
		}
	}
	return 0
}

// equalFoldASCII compares a with the upper-case b, folding ASCII only:
// HTTP methods are ASCII tokens, and a Unicode fold would take "POſT"
// for POST.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}
