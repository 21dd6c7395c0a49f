package promexport

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// blockingGatherer counts gathers and holds each until released.
type blockingGatherer struct {
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.release
	name := "up"
	return []*dto.MetricFamily{{Name: &name}}, nil
}

// Scrapes that arrive while a collection runs share it; one that arrives
// after it finished gets a collection of its own.
func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	g := &blockingGatherer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := &sharedGatherer{g: g}
	const scrapers = 8
	var wg sync.WaitGroup
	results := make(chan int, scrapers)
	wg.Go(func() {
		mfs, _ := s.Gather()
		results <- len(mfs)
	})
	<-g.entered // the first collection is running
	for range scrapers - 1 {
		wg.Go(func() {
			mfs, _ := s.Gather()
			results <- len(mfs)
		})
	}
	s.mu.Lock()
	call := s.call
	s.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); call.waiters.Load() < scrapers-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d scrapers joined the running collection", call.waiters.Load(), scrapers-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(g.release)
	wg.Wait()
	close(results)
	for n := range results {
		if n != 1 {
			t.Errorf("a scraper got %d families, want the shared 1", n)
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d collections for %d scrapers arriving together, want 1", c, scrapers)
	}
	go func() { <-g.entered }()
	if _, err := s.Gather(); err != nil || g.calls.Load() != 2 {
		t.Errorf("a later scrape: %v, %d collections; want a new one", err, g.calls.Load())
	}
}
