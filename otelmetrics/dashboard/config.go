package dashboard

import (
	"strconv"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvDashboard = "METRICS_DASHBOARD"
	EnvInterval  = "METRICS_DASHBOARD_INTERVAL"
	EnvWindow    = "METRICS_DASHBOARD_WINDOW"
)

// Config is the dashboard's part of the environment.
type Config struct {
	// Enabled serves the page and the summary (default true).
	Enabled bool
	// Interval and Window shape the snapshot ring.
	Interval, Window time.Duration
}

// ConfigFromEnv reads METRICS_DASHBOARD, METRICS_DASHBOARD_INTERVAL and
// METRICS_DASHBOARD_WINDOW through lookup. Every bad value is reported, one
// line each naming the variable and the value; the error matches ErrInvalid.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	l := env.Lookup(lookup)
	var c Config
	var errs [3]error
	c.Enabled, errs[0] = env.Bool(l, EnvDashboard, true)
	c.Interval, errs[1] = env.Duration(l, EnvInterval, DefaultInterval, 100*time.Millisecond, time.Hour)
	c.Window, errs[2] = env.Duration(l, EnvWindow, DefaultWindow, time.Second, 24*time.Hour)
	if errs[1] == nil && errs[2] == nil {
		if reason := checkRing(c.Interval, c.Window); reason != "" {
			errs[2] = env.Errorf(EnvWindow, env.String(l, EnvWindow, c.Window.String()), "%s (%s=%s)", reason, EnvInterval, c.Interval)
		}
	}
	return c, env.Join(ErrInvalid, errs[:]...)
}

// Options turns the configuration into New's options.
func (c Config) Options() []Option {
	return []Option{WithInterval(c.Interval), WithWindow(c.Window)}
}

// Settings returns the effective configuration as NAME=value lines, one per
// variable ConfigFromEnv reads, as `metricsbridge check` prints them.
func (c Config) Settings() []string {
	return []string{
		EnvDashboard + "=" + strconv.FormatBool(c.Enabled),
		EnvInterval + "=" + c.Interval.String(),
		EnvWindow + "=" + c.Window.String(),
	}
}
