package semconv

import "testing"

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		ns, sub, want string
		err           bool
	}{
		{"", "", "", false},
		{"default", "", "", false},
		{"default", "api", "api_", false},
		{"shop", "", "shop_", false},
		{"shop", "api", "shop_api_", false},
		{"x9", "Y_1", "x9_Y_1_", false},
		// Names the exporter would rewrite: collapsed underscores, the word
		// "total" dropped, "seconds" changing the histogram's suffix.
		{"_x9", "", "", true},
		{"a__b", "", "", true},
		{"shop_", "", "", true},
		{"shop", "total", "", true},
		{"shop", "api_seconds", "", true},
		{"my-shop", "", "", true},
		{"shop", "a:b", "", true},
		{"9shop", "", "", true},
		{"shop", "ü", "", true},
	} {
		got, err := Prefix(tc.ns, tc.sub)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Prefix(%q, %q) = %q, %v; want %q, error %t", tc.ns, tc.sub, got, err, tc.want, tc.err)
		}
	}
}
