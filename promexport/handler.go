package promexport

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/buckets"
	"github.com/metricsbridge/metricsbridge/internal/semconv"
)

// Exporter is both the sdkmetric.Reader that collects from the
// instrumented MeterProvider and the http.Handler that serves what it
// collects, translated into the Python gateway's series.
//
// The OTel Prometheus exporter does the encoding. It sits on a
// MeterProvider of its own with no instruments, fed by a producer that
// collects through Reader and derives http_requests_total and
// http_request_duration_seconds from http.server.request.duration, so the
// instrumented provider's views (and its OTLP readers) keep the semantic
// conventions unchanged.
type Exporter struct {
	source   reader
	closed   *atomic.Bool // shut down: scrapes get 503
	mp       *sdkmetric.MeterProvider
	registry *prometheus.Registry
	handler  http.Handler
	// proto serves protobuf scrapes, the only format with start
	// timestamps; filling them in for text would be wasted work.
	proto http.Handler
}

type config struct {
	registry  *prometheus.Registry
	logger    *slog.Logger
	names     Names
	ns, sub   string
	buckets   []float64
	nativeMax int
}

// Option configures New.
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithRegistry collects into reg instead of a fresh registry, so a caller
// can serve collectors of its own on the same endpoint. Never pass
// prometheus.DefaultRegisterer's registry from library code. A nil
// registry keeps the default, a fresh one.
func WithRegistry(reg *prometheus.Registry) Option {
	return optionFunc(func(c config) config { c.registry = reg; return c })
}

// WithLogger receives errors from gathering and encoding and the
// series-limit warning. By default, and with a nil logger, nothing is
// logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config { c.logger = l; return c })
}

// WithNames chooses the form of the HTTP series; the default is NamesInstrumentator.
func WithNames(n Names) Option {
	return optionFunc(func(c config) config { c.names = n; return c })
}

// WithPrefix prefixes the derived series as <namespace>_<subsystem>_, with
// the rules of semconv.Prefix ("default" namespace: no prefix).
func WithPrefix(namespace, subsystem string) Option {
	return optionFunc(func(c config) config { c.ns, c.sub = namespace, subsystem; return c })
}

// WithBuckets sets the boundaries, in seconds, of the histograms derived
// from http.server.request.duration. Points recorded with other boundaries
// (a provider without the bridge's views, where each instrumentation
// chooses its own) or in another time unit are converted and re-bucketed
// onto them: each bucket's count goes to the first boundary that holds its
// upper bound, so the layout is the same on every scrape and no request
// is lost. By default they are 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
// 2.5, 5 and 10. Native (exponential) points keep their own buckets and are
// converted to seconds too, each bucket moved whole: a request may be served
// up to 4.4% away from its bucket in seconds, the same factor for every
// request of a series. An empty or nil list keeps the default.
func WithBuckets(b []float64) Option {
	return optionFunc(func(c config) config {
		if len(b) > 0 {
			c.buckets = slices.Clone(b)
		}
		return c
	})
}

// WithNativeMaxBuckets bounds the buckets per sign of each native
// histogram the endpoint serves. Points merged into one series (the instrumentator
// form merges over status) can span a wider range than any one of them;
// such a series is downscaled until it fits, as the SDK does within a
// point. By default the bound is 160; it should be
// the value given to views.WithNativeHistograms.
func WithNativeMaxBuckets(n int) Option {
	return optionFunc(func(c config) config { c.nativeMax = n; return c })
}

// ErrConfig is matched, under errors.Is, by the errors New returns for bad
// options; it is the module's one configuration sentinel,
// metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

// New creates the exporter and its registry.
func New(opts ...Option) (*Exporter, error) {
	c := config{logger: slog.New(slog.DiscardHandler), names: NamesInstrumentator, buckets: buckets.Default(), nativeMax: buckets.NativeDefault}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if err := buckets.Validate(c.buckets); err != nil {
		return nil, fmt.Errorf("promexport: %w: %w", ErrConfig, err)
	}
	switch c.names {
	case NamesInstrumentator, NamesSemconv, NamesBoth:
	default:
		return nil, fmt.Errorf("promexport: %w: names %q, want %q, %q or %q", ErrConfig, c.names, NamesInstrumentator, NamesSemconv, NamesBoth)
	}
	prefix, err := semconv.Prefix(c.ns, c.sub)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w: %w", ErrConfig, err)
	}
	if err := buckets.ValidateNative(c.nativeMax); err != nil {
		return nil, fmt.Errorf("promexport: %w: %w", ErrConfig, err)
	}
	if c.registry == nil {
		c.registry = prometheus.NewRegistry()
	}
	closed := new(atomic.Bool)
	source := reader{ManualReader: sdkmetric.NewManualReader(), closed: closed}
	tr := &translator{
		source: source.ManualReader, names: c.names, prefix: prefix, bounds: c.buckets,
		logger: c.logger, closed: closed, guard: newGuard(prefix, c.names), nativeMax: c.nativeMax,
		starts: newStarts(),
	}
	source.tr = tr
	reader, err := otelprom.New(
		otelprom.WithRegisterer(c.registry),
		otelprom.WithProducer(tr),
		// Names come from the views and the translator; the exporter only
		// adds the Prometheus suffixes (_total, _seconds) and escapes.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	return &Exporter{
		source: source, closed: closed, mp: mp, registry: c.registry,
		handler: newHandler(c.registry, c.logger),
		proto:   newHandler(createdGatherer{c.registry, tr.starts}, c.logger),
	}, nil
}

// newHandler serves g. Scrapes that arrive while a collection is running
// wait for it and share its result (CoalesceGather), so N scrapers
// arriving together (HA Prometheus pairs, a federation, a debugging curl)
// cost one collection, not N: collecting is the expensive part of a
// scrape, and every scrape would otherwise also hold the SDK's locks in
// turn. The families are only read by the encoders, so sharing them is
// safe.
func newHandler(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog: slogAdapter{logger},
		// Serve what could be gathered rather than fail the whole scrape
		// over one bad family; the error is logged.
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		// ServeHTTP negotiates the encoding itself: see negotiateEncoding
		// for why.
		DisableCompression: true,
		CoalesceGather:     true,
	})
}

// Reader is the sdkmetric.Reader to register with the instrumented
// MeterProvider, exactly one. When that provider shuts it down, the
// endpoint answers 503 from then on.
func (e *Exporter) Reader() sdkmetric.Reader { return e.source }

// Shutdown releases the exporter's own provider; scrapes from then on get
// 503 with shutDownBody. The Reader is shut down by the provider it was
// registered with.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.closed.Store(true)
	return e.mp.Shutdown(ctx)
}

// ServeHTTP serves the current metrics, compressed with zstd or gzip when
// the client accepts it (see negotiateEncoding), or 503 once shut down: an
// empty 200 would read as a target without series.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.closed.Load() {
		serveShutDown(w)
		return
	}
	handler := e.handler
	if wantsProtobuf(r.Header) {
		handler = e.proto
	}
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	pool := encoders[negotiateEncoding(r.Header["Accept-Encoding"])]
	if pool == nil {
		handler.ServeHTTP(w, r)
		return
	}
	cw := pool.Get().(*compressResponseWriter)
	h.Set("Content-Encoding", cw.coding)
	cw.ResponseWriter, cw.started, cw.compress = w, false, false
	handler.ServeHTTP(cw, r)
	cw.finish()
	cw.ResponseWriter = nil
	pool.Put(cw)
}

// wantsProtobuf reports whether promhttp will answer in protobuf.
func wantsProtobuf(h http.Header) bool {
	for _, a := range h["Accept"] {
		if strings.Contains(a, "protobuf") {
			return expfmt.NegotiateIncludingOpenMetrics(h).FormatType() == expfmt.TypeProtoDelim
		}
	}
	return false
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("serving metrics", "err", fmt.Sprint(v...)) }

// disabledBody is the Python gateway's answer when metrics are off, to
// the byte (mcpgateway/services/metrics.py), so a client written against
// the gateway recognises it.
const disabledBody = `{"error": "Metrics collection is disabled"}`

// Disabled returns the handler mounted in place of the exporter when
// metrics are off: 503 with disabledBody, never cached. Authentication,
// when configured, wraps it, so a caller without a valid token learns
// nothing about the switch.
func Disabled() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(disabledBody))
	})
}

// The content codings the endpoint serves; identity is the zero value.
type contentCoding uint8

const (
	codingIdentity contentCoding = iota
	codingGzip
	codingZstd
)

// negotiateEncoding applies RFC 9110 §12.5.3 to the Accept-Encoding field
// lines. A coding is acceptable when it has a non-zero weight (its own, or
// that of "*" when it is not named; x-gzip counts as gzip) and identity is
// not weighted higher. Of zstd and gzip, the higher weight wins; at equal
// weight zstd wins when it is named, because it costs the endpoint less
// CPU for a smaller body, and gzip wins when both come only from "*", as a
// client that lists no coding may know gzip alone. Identity that is
// neither named nor covered by "*" is acceptable but carries no
// preference, so "gzip;q=0.5" alone still gets gzip. When a coding is named
// twice the lower weight counts, so a refusal is never overridden. An
// element that is not a coding with at most a valid weight is skipped.
//
// A header that refuses identity and leaves every coding unacceptable too
// ("identity;q=0", "*;q=0") gets the plain body rather than 406: §12.5.3
// allows disregarding the header then, and Prometheus records a 406 as a
// failed scrape with no data, whereas any scraper can read the plain text.
//
// promhttp's negotiation compares codings case-sensitively, lets "*" win
// over an identity the client refused, uses the first of duplicate
// entries, ignores everything after a malformed element, logs an error on
// every scrape whose header refuses a coding and, with its default offers,
// answers Prometheus' "zstd,gzip" with gzip; this does none of that and
// allocates nothing.
func negotiateEncoding(fields []string) contentCoding {
	zstdQ, gzipQ, identityQ, anyQ := -1, -1, -1, -1 // thousandths; -1: not named
	for _, f := range fields {
		for f != "" {
			var elem string
			elem, f, _ = strings.Cut(f, ",")
			coding, q, ok := parseCoding(elem)
			switch {
			case !ok:
			case strings.EqualFold(coding, "zstd"):
				zstdQ = lowerWeight(zstdQ, q)
			case strings.EqualFold(coding, "gzip") || strings.EqualFold(coding, "x-gzip"):
				gzipQ = lowerWeight(gzipQ, q)
			case strings.EqualFold(coding, "identity"):
				identityQ = lowerWeight(identityQ, q)
			case coding == "*":
				anyQ = lowerWeight(anyQ, q)
			}
		}
	}
	zstdNamed := zstdQ >= 0
	if zstdQ < 0 {
		zstdQ = anyQ
	}
	if gzipQ < 0 {
		gzipQ = anyQ
	}
	if identityQ < 0 {
		identityQ = anyQ
	}
	switch {
	case zstdQ > 0 && zstdQ >= identityQ && (zstdQ > gzipQ || zstdQ == gzipQ && zstdNamed):
		return codingZstd
	case gzipQ > 0 && gzipQ >= identityQ:
		return codingGzip
	}
	return codingIdentity
}

func lowerWeight(old, q int) int {
	if old < 0 || q < old {
		return q
	}
	return old
}

// parseCoding splits one list element, `coding [ OWS ";" OWS "q=" qvalue ]`
// with the "q" in either case, into the coding and its weight in
// thousandths (1000 when absent).
func parseCoding(elem string) (coding string, q int, ok bool) {
	coding, weight, hasWeight := strings.Cut(strings.Trim(elem, " \t"), ";")
	coding = strings.TrimRight(coding, " \t")
	if coding == "" {
		return "", 0, false
	}
	if !hasWeight {
		return coding, 1000, true
	}
	weight = strings.TrimLeft(weight, " \t")
	if len(weight) < 2 || (weight[0] != 'q' && weight[0] != 'Q') || weight[1] != '=' {
		return "", 0, false
	}
	q, ok = parseQValue(weight[2:])
	return coding, q, ok
}

// parseQValue parses `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
func parseQValue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	frac := s[1:]
	if frac == "" {
		return q, true
	}
	if frac[0] != '.' || len(frac) > 4 {
		return 0, false
	}
	for i, scale := 1, 100; i < len(frac); i, scale = i+1, scale/10 {
		d := frac[i]
		if d < '0' || d > '9' || (q == 1000 && d != '0') {
			return 0, false
		}
		q += int(d-'0') * scale
	}
	return q, true
}

// zstdWindow bounds the history the zstd encoder keeps and announces in
// the frame header. Prometheus 3's scrape decoder refuses frames whose
// window exceeds 8 MiB; each pooled encoder holds twice its window, and
// exposition text repeats its label sets within far less than 1 MiB, so a
// larger window costs memory without shrinking the body measurably.
const zstdWindow = 1 << 20

// encoders pools one compressResponseWriter per coding, so a scrape reuses
// an encoder and its buffers instead of building them (a zstd encoder
// holds 2 MiB, a gzip one over 800 KiB). Identity has no entry.
var encoders = [...]*sync.Pool{
	codingGzip: {New: func() any { return &compressResponseWriter{coding: "gzip", zw: gzip.NewWriter(nil)} }},
	codingZstd: {New: func() any {
		// One goroutine per encoder: a scrape is one sequential write, and
		// the default of GOMAXPROCS goroutines would compete with the
		// requests being served. SpeedFastest is what client_golang's
		// promhttp uses for zstd.
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			panic(err) // the options are constants, checked by the tests
		}
		return &compressResponseWriter{coding: "zstd", zw: zw}
	}},
}

// encoder is what gzip.Writer and zstd.Encoder have in common.
type encoder interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compressResponseWriter compresses what promhttp writes, unless promhttp
// took Content-Encoding off again before writing: it does so to send a
// gather error as plain text.
type compressResponseWriter struct {
	http.ResponseWriter
	coding            string // the Content-Encoding it produces
	zw                encoder
	started, compress bool
}

func (c *compressResponseWriter) start() {
	if c.started {
		return
	}
	c.started = true
	c.compress = c.Header().Get("Content-Encoding") == c.coding
	if c.compress {
		c.Header().Del("Content-Length")
		c.zw.Reset(c.ResponseWriter)
	}
}

func (c *compressResponseWriter) WriteHeader(code int) {
	c.start()
	c.ResponseWriter.WriteHeader(code)
}

func (c *compressResponseWriter) Write(b []byte) (int, error) {
	c.start()
	if c.compress {
		return c.zw.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// finish ends the compressed stream, also an empty one, so the body always
// matches the Content-Encoding it was announced with.
func (c *compressResponseWriter) finish() {
	c.start()
	if c.compress {
		_ = c.zw.Close() // a client gone mid-body is not the exporter's error
	}
}

func (c *compressResponseWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
