package main

import (
	"context"
	"fmt"
	"io"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// interruptible runs f and returns its result, or ok false when ctx ends
// before f returns or by the time it has. The start-up reads files and may
// fetch a document over the network; a stalled network file system or a
// silent upstream must not make SIGTERM and SIGINT wait. f's goroutine is
// left behind: the process exits right after.
//
// A signal always wins over a result, even one ready at the same moment:
// f may have returned because the signal cancelled its work, and its
// result then says "failed" for a reason that is not the configuration's.
// Which of the two the select saw first would otherwise decide the exit
// status.
func interruptible[T any](ctx context.Context, f func() T) (v T, ok bool) {
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v = <-done:
		if ctx.Err() != nil {
			return v, false
		}
		return v, true
	case <-ctx.Done():
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
		s, lookup, code, ok := loadCommand(ctx, name, summary, args, stderr, lookup, environ)
		return loaded{s, lookup, code, ok}
	})
	if !ok {
		fmt.Fprintf(stderr, "metricsbridge %s: interrupted while loading the configuration\n", name)
		return settings{}, nil, exitFail, false
	}
	return l.s, l.lookup, l.code, l.ok
}
