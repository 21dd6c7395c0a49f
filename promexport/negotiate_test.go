package promexport

import "testing"

// Negotiation runs on every scrape before anything is gathered; it walks
// the header in place rather than building a list of specs.
func TestNegotiateEncodingAllocatesNothing(t *testing.T) {
	fields := []string{"br;q=1.0, gzip;q=0.8, deflate", "identity;q=0, *;q=0.5", "x-gzip ; Q=0.999", "ZSTD;q=0.9"}
	if n := testing.AllocsPerRun(100, func() { negotiateEncoding(fields) }); n != 0 {
		t.Errorf("%.0f allocations per negotiation", n)
	}
}

func TestParseQValue(t *testing.T) {
	for _, tc := range []struct {
		in string
		q  int
		ok bool
	}{
		{"0", 0, true}, {"0.", 0, true}, {"0.5", 500, true}, {"0.05", 50, true}, {"0.001", 1, true},
		{"0.999", 999, true}, {"1", 1000, true}, {"1.", 1000, true}, {"1.000", 1000, true},
		{"", 0, false}, {"1.001", 0, false}, {"0.0001", 0, false}, {".5", 0, false}, {"2", 0, false},
		{"-0", 0, false}, {"0.5 ", 0, false}, {"0,5", 0, false}, {"0.a", 0, false}, {"1.0000", 0, false},
	} {
		if q, ok := parseQValue(tc.in); q != tc.q || ok != tc.ok {
			t.Errorf("parseQValue(%q) = %d, %t; want %d, %t", tc.in, q, ok, tc.q, tc.ok)
		}
	}
}
