package otelmetrics

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An SSE loop that stops on a flush error must see the error behind the
// middleware as it does without it: http.ResponseController prefers
// FlushError, so the wrapper must not offer only Flush, which has no way
// to report a broken connection.
func TestFlushErrorReachesResponseController(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*Provider, http.Handler) http.Handler
	}{
		{"bare", func(_ *Provider, h http.Handler) http.Handler { return h }},
		{"middleware", func(p *Provider, h http.Handler) http.Handler { return p.Middleware(h) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, nil)
			const events = 200
			sent := make(chan int, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				w.Header().Set("Content-Type", "text/event-stream")
				n := 0
				for ; n < events; n++ {
					_, _ = w.Write([]byte("data: tick\n\n")) // the loop watches the flush
					if err := rc.Flush(); err != nil {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
				sent <- n
			})
			srv := httptest.NewServer(tc.wrap(p, mux))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/events")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // the client goes away after the first event
			if n := <-sent; n >= events {
				t.Errorf("the handler wrote all %d events into a closed connection: no flush error reached it", n)
			}
		})
	}
}

// The rest of http.ResponseController reaches the connection through the
// wrapper's Unwrap, and a writer without the methods still answers
// http.ErrNotSupported.
func TestResponseControllerThroughMiddleware(t *testing.T) {
	p := newTestProvider(t, nil)
	results := make(chan []error, 1)
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rc := http.NewResponseController(w)
		results <- []error{
			rc.SetReadDeadline(time.Now().Add(time.Minute)),
			rc.SetWriteDeadline(time.Now().Add(time.Minute)),
			rc.EnableFullDuplex(),
			rc.Flush(),
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for i, err := range <-results {
		if err != nil {
			t.Errorf("method %d over a real connection: %v", i, err)
		}
	}

	// A recorder has Flush only.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	errs := <-results
	for i, err := range errs[:3] {
		if !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("method %d on a recorder: %v, want http.ErrNotSupported", i, err)
		}
	}
	if errs[3] != nil {
		t.Errorf("Flush on a recorder: %v", errs[3])
	}
}
