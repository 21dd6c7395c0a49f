package views_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/metricsbridge/metricsbridge/views"
)

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
		got, err := views.Prefix(tc.ns, tc.sub)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Prefix(%q, %q) = %q, %v; want %q, error %t", tc.ns, tc.sub, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, views.ErrInvalid) {
			t.Errorf("error %v does not wrap ErrInvalid", err)
		}
	}
}

func TestValidateBuckets(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []float64
		ok   bool
	}{
		{"default", views.DefaultBuckets, true},
		{"one", []float64{1}, true},
		{"empty", nil, false},
		{"zero", []float64{0, 1}, false},
		{"negative", []float64{-0.1, 1}, false},
		{"unsorted", []float64{1, 0.5}, false},
		{"duplicate", []float64{0.5, 0.5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := views.ValidateBuckets(tc.b); (err == nil) != tc.ok {
				t.Errorf("ValidateBuckets(%v) = %v", tc.b, err)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := views.New(views.WithNamespace("a-b")); !errors.Is(err, views.ErrInvalid) {
		t.Errorf("bad namespace: %v", err)
	}
	if _, err := views.New(views.WithBuckets([]float64{2, 1})); !errors.Is(err, views.ErrInvalid) {
		t.Errorf("bad buckets: %v", err)
	}
	for _, n := range []int{-1, views.MinNativeBuckets - 1, views.MaxNativeBuckets + 1} {
		if _, err := views.New(views.WithNativeHistograms(n)); !errors.Is(err, views.ErrInvalid) {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
	for _, n := range []int{0, views.MinNativeBuckets, views.DefaultNativeBuckets, views.MaxNativeBuckets} {
		if _, err := views.New(views.WithNativeHistograms(n)); err != nil {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
}

func TestRouteTemplate(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"", ""},
		{"/", "/"},
		{"/servers/{id}/sse", "/servers/{id}/sse"},
		{"GET /servers/{id}/sse", "/servers/{id}/sse"},
		{"POST example.com/tools/invoke", "/tools/invoke"},
		{"example.com/x/{rest...}", "/x/{rest...}"},
		{"GET  /spaced", "/spaced"},
		{"/users/:id", "/users/:id"},
		{"tunnel", ""},
	} {
		if got := views.RouteTemplate(tc.pattern); got != tc.want {
			t.Errorf("RouteTemplate(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

func ExamplePrefix() {
	for _, ns := range []string{"default", "shop"} {
		p, _ := views.Prefix(ns, "api")
		fmt.Println(p + "http_requests_total")
	}
	// Output:
	// api_http_requests_total
	// shop_api_http_requests_total
}
