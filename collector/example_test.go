package collector_test

import (
	"fmt"

	"github.com/metricsbridge/metricsbridge/collector"
)

// A vendor preset fills in the endpoint, the protocol and the temporality
// the vendor's OTLP page asks for; the license key goes into a header.
func ExampleConfigFromEnv() {
	env := map[string]string{
		"METRICS_OTLP_VENDOR":   "newrelic",
		"NEW_RELIC_REGION":      "eu",
		"NEW_RELIC_LICENSE_KEY": "eu01xx0123456789abcdef0123456789abcdNRAL",
	}
	cfg, err := collector.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Protocol, cfg.URL)
	fmt.Println("temporality:", cfg.Temporality)
	// Output:
	// http/protobuf https://otlp.eu01.nr-data.net/v1/metrics
	// temporality: delta
}

// An explicit OTEL_* variable always wins over the preset.
func ExampleConfigFromEnv_override() {
	env := map[string]string{
		"METRICS_OTLP_VENDOR":                               "newrelic",
		"NEW_RELIC_LICENSE_KEY":                             "0123456789abcdef0123456789abcdef0123NRAL",
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative",
	}
	cfg, err := collector.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.URL, cfg.Temporality)
	// Output:
	// https://otlp.nr-data.net/v1/metrics cumulative
}

// Every bad value is reported at once, each naming its variable.
func ExampleConfigFromEnv_errors() {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
		"OTEL_METRIC_EXPORT_INTERVAL": "soon",
	}
	_, err := collector.ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err)
	// Output:
	// invalid OTEL_EXPORTER_OTLP_PROTOCOL="http/json": want http/protobuf or grpc (http/json is not supported by the Go exporter)
	// invalid OTEL_METRIC_EXPORT_INTERVAL="soon": want a positive number of milliseconds
}
