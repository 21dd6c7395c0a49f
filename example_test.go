package metricsbridge_test

import (
	"errors"
	"fmt"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/otelmetrics"
)

// A bad environment value names the variable and the value; a program can
// also inspect them.
func ExampleConfigError() {
	env := map[string]string{"METRICS_LATENCY_BUCKETS": "0.5,0.1"}
	_, err := otelmetrics.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })

	var ce *metricsbridge.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Var, ce.Value)
	}
	fmt.Println(errors.Is(err, metricsbridge.ErrConfig))
	// Output:
	// METRICS_LATENCY_BUCKETS 0.5,0.1
	// true
}
