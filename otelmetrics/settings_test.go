package otelmetrics

import (
	"slices"
	"strings"
	"testing"
)

// TestSettingsNameEveryVariable keeps ConfigFromEnv and Settings in step:
// a variable read but not printed would be invisible to `check`.
func TestSettingsNameEveryVariable(t *testing.T) {
	var read []string
	c, err := ConfigFromEnv(func(k string) (string, bool) { read = append(read, k); return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var printed []string
	for _, line := range c.Settings() {
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
		t.Errorf("ConfigFromEnv reads %v\nSettings prints %v", read, printed)
	}
}

func TestSettingsValues(t *testing.T) {
	vars := map[string]string{
		envEnableMetrics: "true", envCustomLabels: "env=prod, region=eu", envLatencyBuckets: "0.1,1,2.5",
		envExcludedHandlers: "^/a$,/b", envPort: "8080",
	}
	c, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	got := c.Settings()
	for _, want := range []string{
		"ENABLE_METRICS=true", "METRICS_CUSTOM_LABELS=env=prod,region=eu", "METRICS_LATENCY_BUCKETS=0.1,1,2.5",
		"METRICS_EXCLUDED_HANDLERS=^/a$,/b", "PORT=8080", "METRICS_NAMESPACE=default",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("Settings() = %q\nlacks %q", got, want)
		}
	}
}
