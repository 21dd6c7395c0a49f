// Package metricsbridge holds what every package of the module shares: the
// error a bad setting is reported with.
//
// The packages a program uses are below it: otelmetrics (the provider, its
// configuration and the middleware), otelmetrics/routes (route tables),
// otelmetrics/dashboard (the live page), views, promexport (the scrape
// endpoint), auth (scrape tokens) and collector (OTLP push). Each has a
// ConfigFromEnv that reads its environment variables and returns a
// *ConfigError naming the variable at fault, and an ErrConfig that every such
// error matches under errors.Is.
package metricsbridge
