package promexport

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
	name, help := "up", "h"
	typ := dto.MetricType_GAUGE
	v := 1.0
	return []*dto.MetricFamily{{Name: &name, Help: &help, Type: &typ, Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}, nil
}

// Scrapes that arrive while a collection runs share it; one that arrives
// after it finished gets a collection of its own.
func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	g := &blockingGatherer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHandler(g, slog.New(slog.DiscardHandler))
	scrape := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	const scrapers = 8
	var wg sync.WaitGroup
	results := make(chan string, scrapers)
	wg.Go(func() { results <- scrape() })
	<-g.entered // the first collection is running
	// Any collection after it goes ahead, so that a scraper that did not
	// join shows in the count rather than hanging the test.
	go func() {
		for range g.entered {
		}
	}()
	for range scrapers - 1 {
		wg.Go(func() { results <- scrape() })
	}
	// The others join it; there is no way to see them waiting, so give
	// them time. Were one late, it would start a collection of its own and
	// block on entered: the count below would say so.
	time.Sleep(200 * time.Millisecond)
	close(g.release)
	wg.Wait()
	close(results)
	for body := range results {
		if !strings.Contains(body, "up 1") {
			t.Errorf("a scraper got %q", body)
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d collections for %d scrapers arriving together, want 1", c, scrapers)
	}
	defer close(g.entered)
	if body := scrape(); !strings.Contains(body, "up 1") || g.calls.Load() != 2 {
		t.Errorf("a later scrape: %q, %d collections; want a new one", body, g.calls.Load())
	}
}
