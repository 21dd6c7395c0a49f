package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// TestMetricsSettingsNameEveryVariable keeps otelmetrics.ConfigFromEnv and
// metricsSettings in step: a variable read but not printed would be
// invisible to `check`.
func TestMetricsSettingsNameEveryVariable(t *testing.T) {
	var read []string
	c, err := otelmetrics.ConfigFromEnv(func(k string) (string, bool) { read = append(read, k); return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var printed []string
	for _, line := range metricsSettings(c) {
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is not NAME=value", line)
		}
		printed = append(printed, name)
	}
	slices.Sort(read)
	read = slices.Compact(read)
	slices.Sort(printed)
	if !slices.Equal(read, printed) {
		t.Errorf("ConfigFromEnv reads %v\nmetricsSettings prints %v", read, printed)
	}
}

func TestMetricsSettingsValues(t *testing.T) {
	vars := map[string]string{
		"ENABLE_METRICS": "true", "METRICS_CUSTOM_LABELS": "env=prod, region=eu", "METRICS_LATENCY_BUCKETS": "0.1,1,2.5",
		"METRICS_EXCLUDED_HANDLERS": "^/a$,/b", "PORT": "8080",
		"METRICS_DASHBOARD": "off", "METRICS_DASHBOARD_INTERVAL": "2s",
	}
	c, err := otelmetrics.ConfigFromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	got := metricsSettings(c)
	for _, want := range []string{
		"ENABLE_METRICS=true", "METRICS_CUSTOM_LABELS=env=prod,region=eu", "METRICS_LATENCY_BUCKETS=0.1,1,2.5",
		"METRICS_EXCLUDED_HANDLERS=^/a$,/b", "PORT=8080", "METRICS_NAMESPACE=default",
		"METRICS_DASHBOARD=false", "METRICS_DASHBOARD_INTERVAL=2s", "METRICS_DASHBOARD_WINDOW=15m0s",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("metricsSettings() = %q\nlacks %q", got, want)
		}
	}
}
