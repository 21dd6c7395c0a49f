package main

import (
	"log/slog"
	"sync/atomic"
)

// The proxy warns once when nearly every request is handler="none" although
// route templates are configured: a template typo (a missing slash, a
// wrong prefix) otherwise turns every label into "none" in silence, since
// the middleware's own unrouted warning is off in proxy mode, where
// unlabelled paths are normal.
const (
	// unroutedHintEvery is how many requests pass between two looks; the
	// first look is after this many, so a few early probes decide nothing.
	unroutedHintEvery = 100
	// unroutedHintMaxMatchedPercent: at a look, the warning is due when at
	// most this share of the requests so far matched a template.
	unroutedHintMaxMatchedPercent = 1
	// unroutedHintStopAfter ends the counting: a proxy whose templates
	// matched more than 1% of its first 10,000 requests has working
	// templates, and its hot path sheds the two atomic adds.
	unroutedHintStopAfter = 10_000
)

// unroutedHint counts requests and matches until it has warned or seen
// unroutedHintStopAfter requests. The zero value is off.
type unroutedHint struct {
	on      bool
	done    atomic.Bool
	total   atomic.Int64
	matched atomic.Int64
}

// observe counts one request; matched reports whether it got a template.
func (h *unroutedHint) observe(matched bool, logger *slog.Logger, templates string) {
	if !h.on || h.done.Load() {
		return
	}
	if matched {
		h.matched.Add(1)
	}
	n := h.total.Add(1)
	if n%unroutedHintEvery != 0 {
		return
	}
	m := h.matched.Load()
	switch {
	case m*100 <= n*unroutedHintMaxMatchedPercent:
		if h.done.CompareAndSwap(false, true) {
			logger.Warn("nearly every proxied request matched no route template and is labelled handler=none: check --routes and --openapi (a template starts with / after an optional method, and matches the path the client sends)",
				"requests", n, "matched", m, "templates", templates)
		}
	case n >= unroutedHintStopAfter:
		h.done.Store(true)
	}
}
