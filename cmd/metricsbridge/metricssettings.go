package main

import (
	"strconv"
	"strings"

	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// metricsSettings returns the effective metrics settings as NAME=value
// lines, one per variable otelmetrics.ConfigFromEnv reads (the dashboard's
// included), as `check` prints them.
func metricsSettings(c otelmetrics.Config) []string {
	labels := make([]string, len(c.CustomLabels))
	for i, l := range c.CustomLabels {
		labels[i] = l.Key + "=" + l.Value
	}
	buckets := make([]string, len(c.LatencyBuckets))
	for i, b := range c.LatencyBuckets {
		buckets[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return []string{
		"ENABLE_METRICS=" + strconv.FormatBool(c.Enabled),
		"METRICS_EXCLUDED_HANDLERS=" + strings.Join(c.ExcludedHandlers, ","),
		"METRICS_NAMESPACE=" + c.Namespace,
		"METRICS_SUBSYSTEM=" + c.Subsystem,
		"METRICS_CUSTOM_LABELS=" + strings.Join(labels, ","),
		"METRICS_LATENCY_BUCKETS=" + strings.Join(buckets, ","),
		"METRICS_CARDINALITY_LIMIT=" + strconv.Itoa(c.CardinalityLimit),
		"METRICS_PROMETHEUS_NAMES=" + string(c.PrometheusNames),
		"METRICS_EXEMPLARS=" + strconv.FormatBool(c.Exemplars),
		"METRICS_BODY_SIZES=" + strconv.FormatBool(c.BodySizes),
		"METRICS_HISTOGRAMS=" + string(c.Histograms),
		"METRICS_NATIVE_MAX_BUCKETS=" + strconv.Itoa(c.NativeMaxBuckets),
		"METRICS_IN_PROGRESS=" + strconv.FormatBool(c.InProgress),
		"METRICS_DASHBOARD=" + strconv.FormatBool(c.Dashboard.Enabled),
		"METRICS_DASHBOARD_INTERVAL=" + c.Dashboard.Interval.String(),
		"METRICS_DASHBOARD_WINDOW=" + c.Dashboard.Window.String(),
		"HOST=" + c.Host,
		"PORT=" + strconv.Itoa(c.Port),
	}
}
