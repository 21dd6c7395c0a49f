package main

import (
	"context"
	"fmt"
	"io"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// interruptible runs f and returns its result, or ok false as soon as ctx
// ends first. The start-up reads files and may fetch a document over the
// network; a stalled network file system or a silent upstream must not
// make SIGTERM and SIGINT wait. f's goroutine is left behind: the process
// exits right after.
func interruptible[T any](ctx context.Context, f func() T) (v T, ok bool) {
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v, true
	case <-ctx.Done():
		// A result that is ready wins over a signal that came with it.
		select {
		case v := <-done:
			return v, true
		default:
		}
		return v, false
	}
}

// loadCommandInterruptible is loadCommand that gives up when ctx ends,
// as by SIGTERM or SIGINT, with exit status 1: nothing was served.
func loadCommandInterruptible(ctx context.Context, name, summary string, args []string, stderr io.Writer, lookup env.Lookup, environ []string) (settings, env.Lookup, int, bool) {
	type loaded struct {
		s      settings
		lookup env.Lookup
		code   int
		ok     bool
	}
	// After an interrupt the goroutine may still write its own error to
	// stderr next to ours; os.Stderr takes both whole.
	l, ok := interruptible(ctx, func() loaded {
		s, lookup, code, ok := loadCommand(name, summary, args, stderr, lookup, environ)
		return loaded{s, lookup, code, ok}
	})
	if !ok {
		fmt.Fprintf(stderr, "metricsbridge %s: interrupted while loading the configuration\n", name)
		return settings{}, nil, exitFail, false
	}
	return l.s, l.lookup, l.code, l.ok
}
