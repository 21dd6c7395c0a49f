package buckets

import "testing"

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []float64
		ok   bool
	}{
		{"default", Default(), true},
		{"one", []float64{1}, true},
		{"empty", nil, false},
		{"zero", []float64{0, 1}, false},
		{"negative", []float64{-0.1, 1}, false},
		{"unsorted", []float64{1, 0.5}, false},
		{"duplicate", []float64{0.5, 0.5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.b); (err == nil) != tc.ok {
				t.Errorf("Validate(%v) = %v", tc.b, err)
			}
		})
	}
}
