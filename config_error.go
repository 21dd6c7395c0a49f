package metricsbridge

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrConfig is matched under errors.Is by every configuration error of the
// module's packages; each package exports the same value as its own ErrConfig.
var ErrConfig = errors.New("invalid configuration")

// ConfigError is a rejected setting: the environment variable (or flag) as a
// user sets it, the value given and what is allowed. Errors that join several
// of them (errors.Join) are walked with errors.As.
type ConfigError struct {
	Var    string
	Value  string
	Reason string
	// Secret hides Value from Error, so a bad key never reaches a log.
	Secret bool
}

// Error returns one line: invalid VAR="value": reason.
func (e *ConfigError) Error() string {
	v := strconv.Quote(e.Value)
	if e.Secret {
		v = "(hidden)"
	}
	return fmt.Sprintf("invalid %s=%s: %s", e.Var, v, e.Reason)
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }
