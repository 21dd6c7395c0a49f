package dashboard

import (
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Environment variables read by ConfigFromEnv.
const (
	envDashboard = "METRICS_DASHBOARD"
	envInterval  = "METRICS_DASHBOARD_INTERVAL"
	envWindow    = "METRICS_DASHBOARD_WINDOW"
)

// Config is the dashboard's part of the environment.
type Config struct {
	// Enabled serves the page and the summary (default true).
	Enabled bool
	// Interval and Window shape the snapshot ring: a snapshot every
	// Interval, kept for Window. Zero keeps the default (5 s, 15 minutes).
	Interval, Window time.Duration
}

// ConfigFromEnv reads METRICS_DASHBOARD, METRICS_DASHBOARD_INTERVAL and
// METRICS_DASHBOARD_WINDOW through lookup. Every bad value is reported, one
// line each naming the variable and the value; the error matches ErrConfig.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	l := env.Lookup(lookup)
	var c Config
	var errs [3]error
	c.Enabled, errs[0] = env.Bool(l, envDashboard, true)
	c.Interval, errs[1] = env.Duration(l, envInterval, defaultInterval, 100*time.Millisecond, time.Hour)
	c.Window, errs[2] = env.Duration(l, envWindow, defaultWindow, time.Second, 24*time.Hour)
	if errs[1] == nil && errs[2] == nil {
		if reason := checkRing(c.Interval, c.Window); reason != "" {
			errs[2] = env.Errorf(envWindow, env.String(l, envWindow, c.Window.String()), "%s (%s=%s)", reason, envInterval, c.Interval)
		}
	}
	return c, env.Join(ErrConfig, errs[:]...)
}
