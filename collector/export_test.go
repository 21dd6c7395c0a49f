package collector

// Hooks for the tests: a shorter retry wait, and the sentinels of a
// skipped export and a bad wait.
var (
	WithBackoff  = withBackoff
	ErrBackoff   = errBackoff
	ErrThrottled = errThrottled
)
