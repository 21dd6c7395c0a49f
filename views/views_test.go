package views_test

import (
	"errors"
	"testing"

	"github.com/metricsbridge/metricsbridge/views"
)

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := views.New(views.WithNamespace("a-b")); !errors.Is(err, views.ErrConfig) {
		t.Errorf("bad namespace: %v", err)
	}
	if _, err := views.New(views.WithBuckets([]float64{2, 1})); !errors.Is(err, views.ErrConfig) {
		t.Errorf("bad buckets: %v", err)
	}
	for _, n := range []int{-1, 8 - 1, 4096 + 1} {
		if _, err := views.New(views.WithNativeHistograms(n)); !errors.Is(err, views.ErrConfig) {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
	for _, n := range []int{0, 8, 160, 4096} {
		if _, err := views.New(views.WithNativeHistograms(n)); err != nil {
			t.Errorf("native histograms of %d buckets: %v", n, err)
		}
	}
}
