package semconv

import "testing"

func TestMethod(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET", "GET"}, {"get", "GET"}, {"Post", "POST"}, {"PATCH", "PATCH"}, {"options", "OPTIONS"},
		{"CONNECT", "CONNECT"}, {"TRACE", "TRACE"}, {"HEAD", "HEAD"}, {"PUT", "PUT"}, {"DELETE", "DELETE"},
		{"PROPFIND", "_OTHER"}, {"GETS", "_OTHER"}, {"", "_OTHER"}, {"ＧＥＴ", "_OTHER"}, {"PO\u017fT", "_OTHER"},
	} {
		if got := Method(tc.in); got != tc.want {
			t.Errorf("Method(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRoute(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"", ""}, {"/", "/"}, {"GET /servers/{id}/sse", "/servers/{id}/sse"},
		{"POST example.com/tools/invoke", "/tools/invoke"}, {"/users/:id", "/users/:id"}, {"tunnel", ""},
	} {
		if got := Route(tc.pattern); got != tc.want {
			t.Errorf("Route(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
}
