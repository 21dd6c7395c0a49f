package promexport

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sharedGatherer lets scrapes that arrive while a collection is running
// wait for it and share its result, so N scrapers arriving together cost
// one collection, not N: collecting is the expensive part of a scrape, and
// every scrape would otherwise also hold the SDK's locks in turn. A scrape
// that arrives after a collection finished starts a new one, so no scrape
// gets data older than its own arrival by more than one collection.
//
// The families are only read by the encoders, so sharing them is safe.
type sharedGatherer struct {
	g    prometheus.Gatherer
	mu   sync.Mutex
	call *gatherCall
}

type gatherCall struct {
	done    chan struct{}
	waiters atomic.Int32 // scrapes sharing it, for the tests
	mfs     []*dto.MetricFamily
	err     error
}

func (s *sharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	s.mu.Lock()
	if c := s.call; c != nil {
		c.waiters.Add(1)
		s.mu.Unlock()
		<-c.done
		return c.mfs, c.err
	}
	c := &gatherCall{done: make(chan struct{})}
	s.call = c
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		s.call = nil
		s.mu.Unlock()
		close(c.done)
	}()
	c.mfs, c.err = s.g.Gather()
	return c.mfs, c.err
}
