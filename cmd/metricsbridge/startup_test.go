//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM during a start-up that waits (here for an upstream that accepts
// the OpenAPI fetch and never answers) stops the real binary at once
// rather than after the fetch's timeout, always with exit 1 and the
// interruption: the fetch the signal cancelled must not report itself as a
// configuration error (exit 2), whichever goroutine notices first.
func TestSIGTERMDuringStartup(t *testing.T) {
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // held open, never answered
		}
	}()

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := exec.Command(bin, "serve", "--port", "0", "--upstream", "http://"+ln.Addr().String(), "--openapi", "/openapi.json")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case c := <-accepted:
				defer c.Close()
			case err := <-done:
				t.Fatalf("exited before fetching the document: %v\n%s", err, &stderr)
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the OpenAPI fetch never reached the upstream")
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != exitFail {
					t.Errorf("exit %v, want status %d", err, exitFail)
				}
				// The cancelled load's own failure is the signal's doing:
				// no configuration error beside the interruption.
				if !strings.Contains(stderr.String(), "metricsbridge serve: interrupted while loading the configuration") || strings.Contains(stderr.String(), "invalid") {
					t.Errorf("stderr:\n%s", &stderr)
				}
				t.Logf("stopped %s after the signal", time.Since(sent).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s ignored during start-up:\n%s", sig, &stderr)
			}
			// The next subtest's fetch needs a fresh accept.
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
		})
	}
}

// A result that comes back because the signal cancelled its work is the
// signal's: interruptible reports the interruption, never the result,
// however the two arrive. A result with no signal is returned as is.
func TestInterruptibleSignalWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      func(cancel context.CancelFunc) int
		wantOK bool
	}{
		{"f fails because ctx ended", func(cancel context.CancelFunc) int { cancel(); return exitConfig }, false},
		{"f succeeds as ctx ends", func(cancel context.CancelFunc) int { cancel(); return exitOK }, false},
		{"f returns, no signal", func(context.CancelFunc) int { return exitConfig }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The order in which the select sees the two is left to
			// chance: repeat.
			for i := range 1000 {
				ctx, cancel := context.WithCancel(t.Context())
				v, ok := interruptible(ctx, func() int { return tc.f(cancel) })
				cancel()
				if ok != tc.wantOK || ok && v != exitConfig {
					t.Fatalf("run %d: interruptible = %d, %t; want ok %t", i, v, ok, tc.wantOK)
				}
			}
		})
	}
}
