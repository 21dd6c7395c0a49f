// Command metricsbridge serves an HTTP gateway instrumented with
// OpenTelemetry and exposes its metrics on a Prometheus scrape endpoint.
//
//	metricsbridge [serve]   run the demo gateway on HOST:PORT (127.0.0.1:4444)
//	metricsbridge check     validate the configuration and print it
//	metricsbridge token     create or verify scrape tokens
//	metricsbridge version   print the version
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv, os.Environ()...)
	stop()
	os.Exit(code)
}
