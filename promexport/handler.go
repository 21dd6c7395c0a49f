package promexport

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Path is where the scrape endpoint is mounted by metricsbridge.
const Path = "/metrics/prometheus"

// Exporter is both the sdkmetric.Reader that collects from a MeterProvider
// and the http.Handler that serves what it collects.
type Exporter struct {
	reader   *otelprom.Exporter
	registry *prometheus.Registry
	handler  http.Handler
}

type config struct {
	registry *prometheus.Registry
	logger   *slog.Logger
}

// Option configures New.
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithRegistry collects into reg instead of a fresh registry, so a caller
// can serve collectors of its own on the same endpoint. Never pass
// prometheus.DefaultRegisterer's registry from library code.
func WithRegistry(reg *prometheus.Registry) Option {
	return optionFunc(func(c config) config { c.registry = reg; return c })
}

// WithLogger receives errors from gathering and encoding.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config { c.logger = l; return c })
}

// New creates the exporter and its registry.
func New(opts ...Option) (*Exporter, error) {
	c := config{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.registry == nil {
		c.registry = prometheus.NewRegistry()
	}
	reader, err := otelprom.New(
		otelprom.WithRegisterer(c.registry),
		// Names come from the views; the exporter only adds the Prometheus
		// suffixes (_total, _seconds) and escapes.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	h := promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{
		ErrorLog: slogAdapter{c.logger},
		// Serve what could be gathered rather than fail the whole scrape
		// over one bad family; the error is logged.
		ErrorHandling:       promhttp.ContinueOnError,
		EnableOpenMetrics:   true,
		OfferedCompressions: []promhttp.Compression{promhttp.Identity, promhttp.Gzip},
	})
	return &Exporter{reader: reader, registry: c.registry, handler: h}, nil
}

// Reader is the sdkmetric.Reader to register with the MeterProvider.
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// Gatherer returns the registry the endpoint serves.
func (e *Exporter) Gatherer() prometheus.Gatherer { return e.registry }

// ServeHTTP serves the current metrics.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.handler.ServeHTTP(w, r) }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("serving metrics", "err", fmt.Sprint(v...)) }

// disabledBody is fixed, so it is encoded once.
const disabledBody = `{"error":"metrics_disabled","message":"Prometheus metrics are disabled; set ENABLE_METRICS=true to enable them"}` + "\n"

// Disabled returns the handler mounted in place of the exporter when
// metrics are off: 503 with a JSON body, never cached.
func Disabled() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(disabledBody))
	})
}
