package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// readyCacheTTL is how long one readiness result answers every probe: a
// load balancer's probes, many replicas' kubelets or a probe storm then
// dial the upstream at most once a second, while a change of state still
// shows within a second.
const readyCacheTTL = time.Second

// readiness answers /ready in proxy mode from a dial to the upstream,
// cached for readyCacheTTL, and logs failures rate-limited like proxied
// ones.
type readiness struct {
	upstream *url.URL
	logger   *slog.Logger
	// dial is dialUpstream; tests count the calls.
	dial func(context.Context, *url.URL) error
	ttl  time.Duration

	mu      sync.Mutex // held during the dial: concurrent probes share it
	checked time.Time
	err     error

	failures logLimiter
}

func newReadiness(upstream *url.URL, logger *slog.Logger) *readiness {
	return &readiness{upstream: upstream, logger: logger, dial: dialUpstream, ttl: readyCacheTTL}
}

// check returns the upstream's state, dialling only when the last result
// is older than the cache's lifetime.
func (r *readiness) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked.IsZero() && time.Since(r.checked) < r.ttl {
		return r.err
	}
	// Not the probe's context: a prober that gives up must not leave a
	// cancellation in the cache for the others. dialUpstream bounds it.
	r.err = r.dial(context.Background(), r.upstream)
	r.checked = time.Now()
	return r.err
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := r.check(); err != nil {
		if n, ok := r.failures.allow(); ok {
			// The dial error names addresses and resolver details that
			// are the operator's business, not a prober's.
			r.logger.Warn("readiness: upstream unreachable", "upstream", r.upstream.Redacted(), "err", err,
				"remote", req.RemoteAddr, "similar_failures_not_logged", n)
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "upstream unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
