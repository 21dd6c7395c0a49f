// Package browsertest drives Debian's headless Chromium from Go tests over
// the Chrome DevTools Protocol, spoken on the pipe Chromium opens with
// --remote-debugging-pipe (JSON messages separated by NUL bytes on file
// descriptors 3 and 4), so no WebSocket client or driver library is needed.
//
// The browser comes from the Debian package "chromium", which the
// project's scripts/install-deps.sh installs.
package browsertest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsbridge/metricsbridge/internal/testenv"
)

// Path returns the Chromium binary ($CHROMIUM, Debian's, or the one in
// PATH), or skips or fails the test as testenv.Need decides.
func Path(t testing.TB) string {
	t.Helper()
	var err error
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium"} {
		if p == "" {
			continue
		}
		var q string
		if q, err = exec.LookPath(p); err == nil {
			return q
		}
	}
	testenv.Need(t, "chromium (Debian package chromium)", err)
	return ""
}

// Browser is a running headless Chromium.
type Browser struct {
	t   testing.TB
	cmd *exec.Cmd
	out *os.File // commands to the browser (its fd 3)

	mu      sync.Mutex
	nextID  int
	pending map[int]chan message
	events  map[string][]message // by session
	closed  error
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct{ Message string }
	SessionID string `json:"sessionId,omitempty"`
}

// Start launches Chromium headless with a fresh profile and nothing
// running in the background; it is stopped when the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := Path(t)
	toBrowser, fromUs, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, toUs, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--remote-debugging-pipe",
		"--window-size=1280,1000", "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, toUs}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	toBrowser.Close()
	toUs.Close()
	b := &Browser{t: t, cmd: cmd, out: fromUs, pending: map[int]chan message{}, events: map[string][]message{}}
	done := make(chan struct{})
	go b.read(fromBrowser, done)
	t.Cleanup(func() {
		_, _ = b.call("", "Browser.close", nil)
		fromUs.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
		if t.Failed() {
			t.Logf("chromium output:\n%s", logs.String())
		}
	})
	var v struct{ Product string }
	if err := b.Call("", "Browser.getVersion", nil, &v); err != nil {
		t.Fatalf("chromium does not answer on the DevTools pipe: %v\n%s", err, logs.String())
	}
	t.Logf("browser: %s", v.Product)
	return b
}

func (b *Browser) read(r *os.File, done chan struct{}) {
	defer close(done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.closed = fmt.Errorf("devtools pipe: %w", err)
			for id, c := range b.pending {
				close(c)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if c, ok := b.pending[m.ID]; ok {
				c <- m
				delete(b.pending, m.ID)
			}
		} else if m.Method != "" {
			b.events[m.SessionID] = append(b.events[m.SessionID], m)
		}
		b.mu.Unlock()
	}
}

func (b *Browser) call(session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	if b.closed != nil {
		b.mu.Unlock()
		return nil, b.closed
	}
	b.nextID++
	id := b.nextID
	c := make(chan message, 1)
	b.pending[id] = c
	b.mu.Unlock()
	p, _ := json.Marshal(params)
	if params == nil {
		p = []byte("{}")
	}
	req, _ := json.Marshal(struct {
		ID        int             `json:"id"`
		Method    string          `json:"method"`
		Params    json.RawMessage `json:"params"`
		SessionID string          `json:"sessionId,omitempty"`
	}{id, method, p, session})
	if _, err := b.out.Write(append(req, 0)); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-c:
		if !ok {
			return nil, errors.New("browser closed")
		}
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30s", method)
	}
}

// Call sends one DevTools command (in a page's session, or to the browser
// when session is empty) and decodes its result into out, if not nil.
func (b *Browser) Call(session, method string, params, out any) error {
	res, err := b.call(session, method, params)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(res, out)
}

// Page is one tab.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a tab at about:blank with console and log reporting on.
func (b *Browser) NewPage(width, height int) *Page {
	b.t.Helper()
	var target struct{ TargetID string }
	if err := b.Call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.t.Fatal(err)
	}
	var att struct{ SessionID string }
	if err := b.Call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		b.t.Fatal(err)
	}
	p := &Page{b: b, session: att.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.Call(p.session, m, nil, nil); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := b.Call(p.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// Call sends a command in the page's session.
func (p *Page) Call(method string, params, out any) error {
	return p.b.Call(p.session, method, params, out)
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(url string) error {
	if err := p.Call("Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return err
	}
	return p.WaitFor(`document.readyState === "complete"`, 10*time.Second)
}

// Eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into out, if not nil.
func (p *Page) Eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception *struct{ Description string }
		}
	}
	if err := p.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg = e.Exception.Description
		}
		return fmt.Errorf("evaluate %q: %s", expr, msg)
	}
	if out == nil || r.Result.Value == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// WaitFor polls a boolean expression until it is true or timeout passes.
func (p *Page) WaitFor(expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := p.Eval("!!("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not true after %s (last error: %v)", expr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Type focuses the element a selector finds and types text into it as
// keyboard input would.
func (p *Page) Type(selector, text string) error {
	sel, _ := json.Marshal(selector)
	if err := p.Eval(`document.querySelector(`+string(sel)+`).focus()`, nil); err != nil {
		return err
	}
	return p.Call("Input.insertText", map[string]any{"text": text}, nil)
}

// Click clicks the element a selector finds.
func (p *Page) Click(selector string) error {
	sel, _ := json.Marshal(selector)
	return p.Eval(`document.querySelector(`+string(sel)+`).click()`, nil)
}

// Screenshot returns the whole page as PNG.
func (p *Page) Screenshot() ([]byte, error) {
	var r struct{ Data string }
	if err := p.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// Problem is a console error, an uncaught exception or a browser log
// entry of level error (a CSP violation, a failed load).
type Problem struct {
	Source, Text, URL string
}

func (pr Problem) String() string { return pr.Source + ": " + pr.Text + " " + pr.URL }

// Problems returns what the page reported as errors so far.
func (p *Page) Problems() []Problem {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	var out []Problem
	for _, m := range p.b.events[p.session] {
		switch m.Method {
		case "Runtime.consoleAPICalled":
			var e struct {
				Type string
				Args []struct {
					Value       any
					Description string
				}
			}
			_ = json.Unmarshal(m.Params, &e)
			if e.Type != "error" && e.Type != "assert" {
				continue
			}
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, fmt.Sprint(a.Value)+a.Description)
			}
			out = append(out, Problem{Source: "console", Text: strings.Join(parts, " ")})
		case "Runtime.exceptionThrown":
			var e struct {
				ExceptionDetails struct {
					Text      string
					URL       string
					Exception *struct{ Description string }
				}
			}
			_ = json.Unmarshal(m.Params, &e)
			text := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				text += " " + e.ExceptionDetails.Exception.Description
			}
			out = append(out, Problem{Source: "exception", Text: text, URL: e.ExceptionDetails.URL})
		case "Log.entryAdded":
			var e struct {
				Entry struct {
					Source, Level, Text, URL string
				}
			}
			_ = json.Unmarshal(m.Params, &e)
			if e.Entry.Level == "error" {
				out = append(out, Problem{Source: "log/" + e.Entry.Source, Text: e.Entry.Text, URL: e.Entry.URL})
			}
		}
	}
	return out
}
