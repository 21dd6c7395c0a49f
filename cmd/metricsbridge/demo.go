package main

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed static
var staticFiles embed.FS

// registerDemo mounts the small gateway a newcomer can curl at once. Its
// routes mirror the gateway whose metrics metricsbridge reproduces.
func registerDemo(mux *http.ServeMux) {
	mux.HandleFunc("POST /tools/invoke", invokeTool)
	mux.HandleFunc("GET /servers/{id}/sse", serverEvents)
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
}

type invokeRequest struct {
	Tool string         `json:"tool"`
	Args map[string]any `json:"args"`
}

// invokeTool echoes the call. "fail" answers 500 and "sleep" waits
// args.ms milliseconds (at most 5 s), so errors and latency can be shown.
func invokeTool(w http.ResponseWriter, r *http.Request) {
	var req invokeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Tool == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be JSON like {"tool":"echo","args":{}}`})
		return
	}
	switch req.Tool {
	case "fail":
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "tool failed"})
		return
	case "sleep":
		ms, _ := req.Args["ms"].(float64)
		select {
		case <-time.After(min(time.Duration(ms)*time.Millisecond, 5*time.Second)):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tool": req.Tool, "result": req.Args})
}

// serverEvents streams ?events=N (default 3, at most 100) Server-Sent Events,
// ?interval=D apart (default 200ms), flushing each one as it is written.
func serverEvents(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("events"))
	if err != nil || n < 1 || n > 100 {
		n = 3
	}
	interval, err := time.ParseDuration(r.URL.Query().Get("interval"))
	if err != nil || interval < 0 || interval > 10*time.Second {
		interval = 200 * time.Millisecond
	}
	rc := http.NewResponseController(w)
	// A stream may outlive WRITE_TIMEOUT, which is meant for ordinary responses.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	for i := 1; i <= n; i++ {
		if i > 1 {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "id: %d\nevent: message\ndata: {\"server\":%q,\"seq\":%d}\n\n", i, r.PathValue("id"), i)
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
