package semconv

import "testing"

// Methods compare exactly, as in net/http's ServeMux and the conventions:
// "get" is a method no standard defines, so it is _OTHER, and a client
// sending it cannot add to the GET series.
func TestMethod(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"GET", "GET", "GET"},
		{"POST", "POST", "POST"},
		{"PATCH", "PATCH", "PATCH"},
		{"CONNECT", "CONNECT", "CONNECT"},
		{"TRACE", "TRACE", "TRACE"},
		{"HEAD", "HEAD", "HEAD"},
		{"PUT", "PUT", "PUT"},
		{"DELETE", "DELETE", "DELETE"},
		{"OPTIONS", "OPTIONS", "OPTIONS"},
		{"lower case", "get", "_OTHER"},
		{"mixed case", "Post", "_OTHER"},
		{"lower case options", "options", "_OTHER"},
		{"unknown", "PROPFIND", "_OTHER"},
		{"longer", "GETS", "_OTHER"},
		{"empty", "", "_OTHER"},
		{"full width", "ＧＥＴ", "_OTHER"},
		{"long s", "PO\u017fT", "_OTHER"},
		{"the other value itself", "_OTHER", "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Method(tc.in); got != tc.want {
				t.Errorf("Method(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// MethodIndexFold finds the standard method a wrongly cased spelling
// means, for messages that tell the user so; it folds ASCII only.
func TestMethodIndexFold(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"exact", "GET", "GET"},
		{"lower case", "get", "GET"},
		{"mixed case", "oPtIoNs", "OPTIONS"},
		{"unknown", "PROPFIND", "_OTHER"},
		{"empty", "", "_OTHER"},
		{"long s", "PO\u017fT", "_OTHER"},
		{"full width", "ＧＥＴ", "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Methods[MethodIndexFold(tc.in)]; got != tc.want {
				t.Errorf("MethodIndexFold(%q) is %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Normalising a method is on every request's path: it allocates nothing.
func TestMethodAllocatesNothing(t *testing.T) {
	for _, m := range []string{"GET", "get", "PROPFIND", "DELETE"} {
		if n := testing.AllocsPerRun(100, func() { _ = MethodIndex(m) }); n != 0 {
			t.Errorf("MethodIndex(%q): %v allocations", m, n)
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
