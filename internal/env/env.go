// Package env reads typed settings from environment variables and reports a
// bad value as one line naming the variable, the value and what is allowed.
package env

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/metricsbridge/metricsbridge"
)

// ErrInvalid is wrapped by every *Error.
var ErrInvalid = metricsbridge.ErrConfig

// Lookup is the signature of os.LookupEnv; tests pass a map's lookup.
type Lookup func(string) (string, bool)

// Map returns a Lookup over m.
func Map(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Error is a rejected environment value, the module's public type.
type Error = metricsbridge.ConfigError

// Errorf builds an *Error for name=value.
func Errorf(name, value, format string, args ...any) *Error {
	return &Error{Var: name, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// String returns the trimmed value of name, or def when it is unset or blank.
func String(l Lookup, name, def string) string {
	if v, ok := l(name); ok {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return def
}

// Bool accepts the spellings operators actually write in env files.
func Bool(l Lookup, name string, def bool) (bool, error) {
	raw := String(l, name, "")
	if raw == "" {
		return def, nil
	}
	switch strings.ToLower(raw) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return def, Errorf(name, raw, "want true or false")
}

// Int parses a base-10 integer within [lo, hi].
func Int(l Lookup, name string, def, lo, hi int) (int, error) {
	raw := String(l, name, "")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return def, Errorf(name, raw, "want an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// Duration parses a Go duration ("30s", "1m30s") within [lo, hi]. A bare
// number is refused rather than guessed to be seconds or milliseconds.
func Duration(l Lookup, name string, def, lo, hi time.Duration) (time.Duration, error) {
	raw := String(l, name, "")
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < lo || d > hi {
		return def, Errorf(name, raw, "want a duration from %s to %s, such as 30s or 2m", lo, hi)
	}
	return d, nil
}

// List splits a comma-separated value into trimmed items. An empty item (as
// in "a,,b" or a trailing comma) is an error: it is nearly always a typo.
func List(l Lookup, name string) ([]string, error) {
	raw := String(l, name, "")
	if raw == "" {
		return nil, nil
	}
	items := strings.Split(raw, ",")
	for i, it := range items {
		items[i] = strings.TrimSpace(it)
		if items[i] == "" {
			return nil, Errorf(name, raw, "item %d of the comma-separated list is empty", i+1)
		}
	}
	return items, nil
}

// Pairs splits a comma-separated list of key=value items, trimming each key
// and value and keeping their order. An empty item or one without a key is
// an error naming its position; secret hides raw from the error.
func Pairs(name, raw string, secret bool) ([][2]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	items := strings.Split(raw, ",")
	out := make([][2]string, 0, len(items))
	for i, it := range items {
		if strings.TrimSpace(it) == "" {
			return nil, &Error{Var: name, Value: raw, Secret: secret, Reason: fmt.Sprintf("item %d of the comma-separated list is empty", i+1)}
		}
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &Error{Var: name, Value: raw, Secret: secret, Reason: fmt.Sprintf("item %d is not key=value", i+1)}
		}
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	return out, nil
}

// Join is errors.Join that also matches kind under errors.Is, so each
// package reports its configuration errors under its own exported sentinel
// while every line keeps its text.
func Join(kind error, errs ...error) error {
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	return &joined{err: err.(interface{ Unwrap() []error }).Unwrap(), kind: kind}
}

type joined struct {
	err  []error
	kind error
}

func (j *joined) Error() string {
	return errors.Join(j.err...).Error()
}

func (j *joined) Unwrap() []error { return j.err }

func (j *joined) Is(target error) bool { return target == j.kind }
