package main

import (
	"net/http"
	"strings"
)

// registerDashboard mounts the page and its summary beside the scrape
// endpoint, the summary behind the same bearer check and 503. The page
// itself is static and holds no data, so a browser can load it without a
// token and then ask for one. With METRICS_DASHBOARD=false the paths are
// not mounted and answer 404, still from the bridge: in proxy mode they
// are never forwarded.
func (b *server) registerDashboard(own *http.ServeMux) {
	if !b.s.metrics.Dashboard.Enabled {
		return
	}
	summary := b.provider.SummaryHandler()
	if b.guard != nil {
		summary = b.guard(summary)
	}
	page := b.provider.DashboardHandler()
	own.Handle("GET "+pathSummary, summary)
	own.Handle("GET "+pathDashboard, page)
	own.Handle("GET "+pathDashboard+"/", page)
}

// dashboardAsset reports whether a path is one of the page's files, which
// the bridge serves itself in proxy mode.
func dashboardAsset(path string) bool {
	return strings.HasPrefix(path, pathDashboard+"/")
}

// logDashboard says where the page is, since a newcomer looks there first.
func (b *server) logDashboard(ownBase string) {
	if b.s.metrics.Dashboard.Enabled {
		b.logger.Info("dashboard", "url", ownBase+pathDashboard, "summary", ownBase+pathSummary,
			"every", b.s.metrics.Dashboard.Interval, "window", b.s.metrics.Dashboard.Window)
	}
}
