package promexport

import (
	"strings"
	"testing"
)

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

// Whatever else the header holds, a refusal on a later field line is never
// overridden, and the negotiation never picks a coding the client did not
// make acceptable somehow (by name, alias or "*").
func FuzzNegotiateEncoding(f *testing.F) {
	for _, s := range []string{"zstd,gzip", "gzip;q=0.5, zstd;q=0.5", "*;q=0.1, identity;q=0", "x-gzip", "ZSTD;Q=1.000", "\x00;q=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := negotiateEncoding([]string{header})
		lower := strings.ToLower(header)
		if got == codingZstd && !strings.Contains(lower, "zstd") && !strings.Contains(header, "*") {
			t.Errorf("%q: zstd without zstd or * in the header", header)
		}
		if got == codingGzip && !strings.Contains(lower, "gzip") && !strings.Contains(header, "*") {
			t.Errorf("%q: gzip without gzip or * in the header", header)
		}
		if c := negotiateEncoding([]string{header, "zstd;q=0"}); c == codingZstd {
			t.Errorf("%q then zstd;q=0: zstd", header)
		}
		if c := negotiateEncoding([]string{header, "gzip;q=0"}); c == codingGzip {
			t.Errorf("%q then gzip;q=0: gzip", header)
		}
	})
}
