package semconv

import "go.opentelemetry.io/otel/attribute"

// HTTPServerKeys are the attributes of http.server.request.duration that
// reach aggregation: the views' allow-list.
var HTTPServerKeys = [...]attribute.Key{KeyHTTPMethod, KeyHTTPRoute, KeyHTTPStatus, KeyURLScheme, KeyErrorType}
