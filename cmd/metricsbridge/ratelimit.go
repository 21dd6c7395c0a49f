package main

import (
	"sync/atomic"
	"time"
)

// logEvery is how often a repeated failure is logged at most.
const logEvery = 10 * time.Second

// logLimiter lets the first of a run of similar log lines through, then at
// most one every logEvery, and counts the ones left out, so that a dead
// upstream under load (one failure per request or per probe) does not
// flood the log. The zero value is ready to use.
type logLimiter struct {
	last       atomic.Int64 // UnixNano of the last line let through
	suppressed atomic.Int64
}

// allow reports whether to log now and, when it does, how many lines were
// left out since the last one.
func (l *logLimiter) allow() (notLogged int64, ok bool) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(logEvery) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
