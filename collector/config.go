package collector

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Environment variables. The OTEL_* ones mean what the OpenTelemetry
// specification says; ConfigFromEnv resolves them itself (the Go SDK's
// exporters read only some of them) so that check can print what is used.
const (
	EnvExporters          = "OTEL_METRICS_EXPORTER"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvMetricsHeaders     = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvMetricsProtocol    = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvCompression        = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvMetricsCompress    = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
	EnvTimeout            = "OTEL_EXPORTER_OTLP_TIMEOUT"
	EnvMetricsTimeout     = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	EnvTemporality        = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
	EnvInterval           = "OTEL_METRIC_EXPORT_INTERVAL"
	EnvExportTimeout      = "OTEL_METRIC_EXPORT_TIMEOUT"
	EnvVendor             = "METRICS_OTLP_VENDOR"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"

	EnvSplunkRealm    = "SPLUNK_REALM"
	EnvSplunkToken    = "SPLUNK_ACCESS_TOKEN"
	EnvNewRelicKey    = "NEW_RELIC_LICENSE_KEY"
	EnvNewRelicRegion = "NEW_RELIC_REGION"
	EnvDatadogKey     = "DD_API_KEY"
	EnvDatadogSite    = "DD_SITE"
	EnvDatadogAgent   = "DD_AGENT_HOST"

	EnvGrafanaEndpoint = "GRAFANA_CLOUD_OTLP_ENDPOINT"
	EnvGrafanaInstance = "GRAFANA_CLOUD_INSTANCE_ID"
	EnvGrafanaToken    = "GRAFANA_CLOUD_TOKEN"

	EnvSDKDisabled          = "OTEL_SDK_DISABLED"
	EnvHistogramAggregation = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
)

// Histogram aggregations OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
// names.
const (
	HistogramExplicit    = "explicit_bucket_histogram"
	HistogramExponential = "base2_exponential_bucket_histogram"
)

// Protocols.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Temporality preferences, as the specification spells them.
const (
	Cumulative = "cumulative"
	Delta      = "delta"
	LowMemory  = "lowmemory"
)

// Vendors selectable with METRICS_OTLP_VENDOR.
var Vendors = []string{"collector", "splunk", "newrelic", "datadog", "grafana"}

// DatadogSites are the Datadog sites whose OTLP metrics intake is
// documented (https://docs.datadoghq.com/getting_started/site/ and
// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/,
// which is not offered on US1-FED, ddog-gov.com).
var DatadogSites = []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ap2.datadoghq.com"}

// DatadogMetricConfig is the dd-otel-metric-config header the Datadog
// preset sends (https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/,
// "Configure the metric translator"): resource attributes become tags, so
// replicas that differ in service.instance.id stay apart instead of
// overwriting each other's points (Datadog keeps the last point per second
// and tag set); histograms become distributions, the mode the page
// recommends, with .min/.max/.sum/.count beside them.
const DatadogMetricConfig = `{"resource_attributes_as_tags":true,"histograms":{"mode":"distributions","send_aggregation_metrics":true}}`

// Config is the resolved push configuration.
type Config struct {
	// Prometheus and OTLP say which exporters OTEL_METRICS_EXPORTER chose.
	Prometheus bool
	OTLP       bool
	Vendor     string
	Protocol   string
	// URL is the full metrics endpoint: for HTTP it includes the path
	// (/v1/metrics unless a signal-specific endpoint said otherwise), for
	// gRPC it is scheme://host:port.
	URL         string
	Headers     map[string]string
	Compression string // "gzip" or "none"
	// Timeout bounds one export request; ExportTimeout one whole export
	// including our retries of refused connections.
	Timeout       time.Duration
	Temporality   string
	Interval      time.Duration
	ExportTimeout time.Duration
	// MaxBatch splits an export into requests of at most this many data
	// points (0: no limit), for destinations with small payload limits.
	MaxBatch int
	// MaxBytes splits an export so that no request's uncompressed
	// protobuf exceeds it (0: no limit), for the same reason.
	MaxBytes int
	// MaxBuckets is the most histogram buckets the destination keeps (0:
	// no limit); serve refuses more at start.
	MaxBuckets int
	// ExplicitOnly is set for destinations that take explicit-bucket
	// histograms only; serve refuses native (exponential) histograms for
	// them at start.
	ExplicitOnly bool
	// HistogramAggregation is what
	// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION asked for,
	// HistogramExplicit when unset.
	HistogramAggregation string
	// SDKDisabled is OTEL_SDK_DISABLED: push is off whatever else says.
	SDKDisabled bool
	// TLSFiles are the certificate files the OTEL_EXPORTER_OTLP_*
	// certificate variables name; TLS is the client configuration built
	// from them, nil when none is set (the system roots verify https).
	TLSFiles TLSFiles
	TLS      *tls.Config
	// tlsWarnings are about the TLS files loadTLS read; see Warnings.
	tlsWarnings []string
}

// Defaults from the OpenTelemetry specification.
const (
	defaultHTTPEndpoint  = "http://localhost:4318"
	defaultGRPCEndpoint  = "http://localhost:4317"
	defaultTimeout       = 10 * time.Second
	defaultInterval      = 60 * time.Second
	defaultExportTimeout = 30 * time.Second
)

// preset is what a vendor choice fills in when the OTEL_* variables do not.
type preset struct {
	protocol string
	url      string // full metrics URL
	headers  map[string]string
	// headerVars names the variable each header value came from, for
	// errors; keys are canonical.
	headerVars  map[string]string
	temporality string
	maxBatch    int
	maxBytes    int
	maxBuckets  int
	// explicitOnly: the destination takes no exponential histograms.
	explicitOnly bool
}

// ErrConfig is matched, under errors.Is, by every error of ConfigFromEnv and
// Resource.
var ErrConfig = errors.New("collector: invalid configuration")

// ConfigFromEnv resolves the push configuration. Precedence, highest first:
// the signal-specific OTEL_EXPORTER_OTLP_METRICS_* variable, the generic
// OTEL_EXPORTER_OTLP_* one, the vendor preset, the specification default.
// Every bad value is reported, one line each naming the variable and the
// value (secrets hidden); the error matches ErrConfig.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var errs []error
	c := Config{Headers: map[string]string{}}

	c.Vendor = strings.ToLower(env.String(lookup, EnvVendor, ""))
	if c.Vendor != "" && !slices.Contains(Vendors, c.Vendor) {
		errs = append(errs, env.Errorf(EnvVendor, c.Vendor, "want one of %s", strings.Join(Vendors, ", ")))
		c.Vendor = ""
	}
	p, err := vendorPreset(c.Vendor, lookup)
	errs = append(errs, err)

	exporters, err := env.List(lookup, EnvExporters)
	errs = append(errs, err)
	if len(exporters) == 0 {
		// Naming a vendor is asking to push; the endpoint stays as it was.
		exporters = []string{"prometheus"}
		if c.Vendor != "" {
			exporters = append(exporters, "otlp")
		}
	}
	for _, e := range exporters {
		switch strings.ToLower(e) {
		case "prometheus":
			c.Prometheus = true
		case "otlp":
			c.OTLP = true
		case "none":
		default:
			errs = append(errs, env.Errorf(EnvExporters, strings.Join(exporters, ","), "unknown exporter %q: want prometheus, otlp or none, comma-separated", e))
		}
	}

	c.Protocol = first(lookup, p.protocol, ProtocolHTTP, EnvMetricsProtocol, EnvProtocol)
	if c.Protocol != ProtocolHTTP && c.Protocol != ProtocolGRPC {
		name := firstSet(lookup, EnvMetricsProtocol, EnvProtocol)
		errs = append(errs, env.Errorf(name, c.Protocol, "want %s or %s (http/json is not supported by the Go exporter)", ProtocolHTTP, ProtocolGRPC))
		c.Protocol = ProtocolHTTP
	}

	switch {
	case env.String(lookup, EnvMetricsEndpoint, "") != "":
		// Signal-specific endpoints are used as they are.
		c.URL = env.String(lookup, EnvMetricsEndpoint, "")
		errs = append(errs, checkURL(EnvMetricsEndpoint, c.URL))
	case env.String(lookup, EnvEndpoint, "") != "":
		base := env.String(lookup, EnvEndpoint, "")
		errs = append(errs, checkURL(EnvEndpoint, base))
		c.URL = base
		if c.Protocol == ProtocolHTTP {
			c.URL = strings.TrimRight(base, "/") + "/v1/metrics"
		}
	case p.url != "":
		c.URL = p.url
	case c.Protocol == ProtocolGRPC:
		c.URL = defaultGRPCEndpoint
	default:
		c.URL = defaultHTTPEndpoint + "/v1/metrics"
	}

	// Names are canonicalised before merging so that a preset's X-SF-Token
	// and an explicit x-sf-token are one header, and the explicit one wins
	// on every start, not by map order.
	source := map[string]string{}
	for k, v := range p.headers {
		k = textproto.CanonicalMIMEHeaderKey(k)
		c.Headers[k], source[k] = v, p.headerVars[k]
	}
	for _, name := range []string{EnvHeaders, EnvMetricsHeaders} {
		h, err := parseHeaders(name, env.String(lookup, name, ""))
		errs = append(errs, err)
		for k, v := range h {
			c.Headers[k], source[k] = v, name
		}
	}
	errs = append(errs, cleartextCheck(lookup, c.URL, source))

	c.Compression = strings.ToLower(first(lookup, "", "gzip", EnvMetricsCompress, EnvCompression))
	if c.Compression != "gzip" && c.Compression != "none" {
		errs = append(errs, env.Errorf(firstSet(lookup, EnvMetricsCompress, EnvCompression), c.Compression, "want gzip or none"))
	}

	c.Timeout, err = millis(lookup, defaultTimeout, EnvMetricsTimeout, EnvTimeout)
	errs = append(errs, err)
	c.Interval, err = millis(lookup, defaultInterval, EnvInterval)
	errs = append(errs, err)
	c.ExportTimeout, err = millis(lookup, defaultExportTimeout, EnvExportTimeout)
	errs = append(errs, err)

	c.Temporality = strings.ToLower(first(lookup, p.temporality, Cumulative, EnvTemporality))
	if c.Temporality != Cumulative && c.Temporality != Delta && c.Temporality != LowMemory {
		errs = append(errs, env.Errorf(EnvTemporality, c.Temporality, "want cumulative, delta or lowmemory"))
	}
	if c.Vendor == "datadog" && p.url != "" && c.Temporality != Delta && env.String(lookup, EnvDatadogKey, "") != "" {
		// lowmemory keeps asynchronous counters cumulative, which the
		// intake refuses as well.
		errs = append(errs, env.Errorf(EnvTemporality, c.Temporality, "Datadog's OTLP intake accepts only delta (cumulative sums are an error); use delta"))
	}
	c.MaxBatch, c.MaxBytes, c.MaxBuckets, c.ExplicitOnly = p.maxBatch, p.maxBytes, p.maxBuckets, p.explicitOnly
	c.HistogramAggregation, err = histogramAggregation(lookup)
	errs = append(errs, err)
	// The specification's switch for the whole SDK; here it turns push
	// off, while the scrape endpoint stays governed by ENABLE_METRICS.
	disabled, err := env.Bool(lookup, EnvSDKDisabled, false)
	errs = append(errs, err)
	if disabled {
		c.OTLP, c.SDKDisabled = false, true
	}
	c.TLSFiles, c.TLS, c.tlsWarnings, err = loadTLS(lookup, c.URL)
	errs = append(errs, err)
	return c, env.Join(ErrConfig, errs...)
}

// Payload limits, with room for the per-request overhead the size
// estimate leaves out.
const (
	newRelicMaxBytes = 900_000 // New Relic: 1 MB
	datadogMaxBytes  = 450_000 // Datadog: 500 KB uncompressed
)

// histogramAggregation reads OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION.
// The binary maps it onto METRICS_HISTOGRAMS (one instrument has one
// aggregation, so the scrape and the push share it).
func histogramAggregation(lookup env.Lookup) (string, error) {
	switch v := strings.ToLower(env.String(lookup, EnvHistogramAggregation, HistogramExplicit)); v {
	case HistogramExplicit, HistogramExponential:
		return v, nil
	default:
		return HistogramExplicit, env.Errorf(EnvHistogramAggregation, v, "want %s or %s", HistogramExplicit, HistogramExponential)
	}
}

// vendorPreset fills in a destination from a few vendor variables. The
// endpoints and headers are the vendors' documented OTLP ingest.
func vendorPreset(vendor string, lookup env.Lookup) (preset, error) {
	required := func(name string) (string, error) {
		v := env.String(lookup, name, "")
		if v == "" {
			return "", env.Errorf(EnvVendor, vendor, "needs %s", name)
		}
		return v, nil
	}
	switch vendor {
	case "collector":
		return preset{protocol: ProtocolHTTP, url: defaultHTTPEndpoint + "/v1/metrics", temporality: Cumulative}, nil
	case "splunk":
		// https://docs.splunk.com/observability/en/gdi/other-ingestion-methods/rest-APIs-for-datapoints.html
		// OTLP over HTTP is ingested at /v2/datapoint/otlp, authenticated by
		// an org access token in X-SF-Token.
		// https://docs.splunk.com/observability/en/data-visualization/charts/histograms.html
		// asks for delta histograms (with min and max) and keeps explicit
		// bucket histograms of at most 31 buckets, dropping larger ones.
		realm, err1 := required(EnvSplunkRealm)
		token, err2 := required(EnvSplunkToken)
		if err := errors.Join(err1, err2); err != nil {
			return preset{}, err
		}
		if !validHostLabel(realm) {
			return preset{}, env.Errorf(EnvSplunkRealm, realm, "want a realm such as us0, us1, eu0")
		}
		return preset{protocol: ProtocolHTTP, url: "https://ingest." + realm + ".signalfx.com/v2/datapoint/otlp",
			headers: map[string]string{"X-SF-Token": token}, headerVars: map[string]string{"X-Sf-Token": EnvSplunkToken},
			temporality: Delta, maxBuckets: 31, explicitOnly: true}, checkSecret(EnvSplunkToken, token)
	case "newrelic":
		// https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/
		// US https://otlp.nr-data.net, EU https://otlp.eu01.nr-data.net,
		// FedRAMP https://gov-otlp.nr-data.net; the license key in api-key;
		// delta temporality preferred; payloads up to 1 MB.
		key, err := required(EnvNewRelicKey)
		if err != nil {
			return preset{}, err
		}
		host := "otlp.nr-data.net"
		switch r := strings.ToLower(env.String(lookup, EnvNewRelicRegion, "us")); r {
		case "us":
		case "eu":
			host = "otlp.eu01.nr-data.net"
		case "fedramp":
			host = "gov-otlp.nr-data.net"
		default:
			return preset{}, env.Errorf(EnvNewRelicRegion, r, "want us, eu or fedramp")
		}
		return preset{protocol: ProtocolHTTP, url: "https://" + host + "/v1/metrics",
			headers: map[string]string{"api-key": key}, headerVars: map[string]string{"Api-Key": EnvNewRelicKey},
			temporality: Delta, maxBatch: 5000, maxBytes: newRelicMaxBytes}, checkSecret(EnvNewRelicKey, key)
	case "datadog":
		// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/
		// Direct intake: https://otlp.<site>/v1/metrics with dd-api-key and
		// dd-otel-metric-config, http/protobuf, delta only, 500 KB
		// uncompressed per payload (413 above).
		// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest_in_the_agent/
		// Without an API key: the local Agent's OTLP receiver on :4318,
		// whose own configuration decides the translation.
		if key := env.String(lookup, EnvDatadogKey, ""); key != "" {
			site := strings.ToLower(env.String(lookup, EnvDatadogSite, "datadoghq.com"))
			if !slices.Contains(DatadogSites, site) {
				reason := "want one of " + strings.Join(DatadogSites, ", ")
				if site == "ddog-gov.com" {
					reason = "Datadog's OTLP metrics intake is not offered on ddog-gov.com; send through a Datadog Agent instead (unset DD_API_KEY, set DD_AGENT_HOST)"
				}
				return preset{}, env.Errorf(EnvDatadogSite, site, "%s", reason)
			}
			return preset{protocol: ProtocolHTTP, url: "https://otlp." + site + "/v1/metrics",
				headers:     map[string]string{"dd-api-key": key, "dd-otel-metric-config": DatadogMetricConfig},
				headerVars:  map[string]string{"Dd-Api-Key": EnvDatadogKey, "Dd-Otel-Metric-Config": EnvVendor},
				temporality: Delta, maxBatch: 2000, maxBytes: datadogMaxBytes}, checkSecret(EnvDatadogKey, key)
		}
		host := env.String(lookup, EnvDatadogAgent, "localhost")
		if !validHost(host) {
			return preset{}, env.Errorf(EnvDatadogAgent, host, "want a host name or address")
		}
		return preset{protocol: ProtocolHTTP, url: "http://" + host + ":4318/v1/metrics", temporality: Delta}, nil
	case "grafana":
		// https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/
		// The stack's OTLP gateway URL (ending in /otlp; the exporter
		// appends /v1/metrics), basic auth with the instance ID as user and
		// an access policy token as password. Cumulative, which Grafana
		// Cloud's Mimir stores natively.
		endpoint, err1 := required(EnvGrafanaEndpoint)
		id, err2 := required(EnvGrafanaInstance)
		token, err3 := required(EnvGrafanaToken)
		if err := errors.Join(err1, err2, err3); err != nil {
			return preset{}, err
		}
		if u, err := url.Parse(endpoint); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return preset{}, env.Errorf(EnvGrafanaEndpoint, RedactURL(endpoint), "want the stack's https:// OTLP gateway URL, such as https://otlp-gateway-prod-eu-west-2.grafana.net/otlp")
		}
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return preset{}, env.Errorf(EnvGrafanaInstance, id, "want the stack's numeric instance ID")
		}
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+token))
		return preset{protocol: ProtocolHTTP, url: strings.TrimRight(endpoint, "/") + "/v1/metrics",
			headers: map[string]string{"Authorization": auth}, headerVars: map[string]string{"Authorization": EnvGrafanaToken},
			temporality: Cumulative}, checkSecret(EnvGrafanaToken, token)
	}
	return preset{}, nil
}

func validHostLabel(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != ""
}

func validHost(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !validHostLabel(strings.ToLower(part)) {
			return false
		}
	}
	return true
}

func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return &env.Error{Var: name, Value: raw, Secret: strings.Contains(raw, "@"), Reason: "want an http:// or https:// URL"}
	case u.User != nil:
		// The URL is printed by check, at start and in failure logs;
		// credentials belong in OTEL_EXPORTER_OTLP_HEADERS, which is masked.
		return env.Errorf(name, RedactURL(raw), "credentials in the URL are not supported; send them as a header with %s", EnvHeaders)
	}
	return nil
}

// RedactURL returns raw fit to print: user information and query values
// are masked, since either may carry a key.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL, hidden)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// cleartextCheck refuses to send header values, which are credentials as
// far as we can tell, over plain HTTP to anything but this machine: a
// local agent or Collector is the one legitimate http:// destination.
func cleartextCheck(lookup env.Lookup, raw string, source map[string]string) error {
	if len(source) == 0 {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || isLoopback(u.Hostname()) {
		return nil
	}
	vars := make([]string, 0, len(source))
	for _, v := range source {
		if !slices.Contains(vars, v) {
			vars = append(vars, v)
		}
	}
	sort.Strings(vars)
	name := firstSet(lookup, EnvMetricsEndpoint, EnvEndpoint)
	value := env.String(lookup, name, "")
	if value == "" {
		name, value = EnvVendor, env.String(lookup, EnvVendor, "")
	}
	return env.Errorf(name, RedactURL(value),
		"%s would be sent in cleartext over http:// to a host that is not loopback; use https://, or a local agent or Collector on 127.0.0.1",
		strings.Join(vars, " and "))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkSecret refuses a credential that could not go out in a header.
func checkSecret(name, v string) error {
	if !validHeaderValue(v) {
		return &env.Error{Var: name, Value: v, Secret: true, Reason: "contains a control character, which cannot be sent in a header"}
	}
	return nil
}

// validHeaderName is RFC 9110's token.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// validHeaderValue refuses control characters other than tab: a newline
// would split the header, and the transport refuses the others on every
// export.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// first returns the first set variable among names, else def when the
// preset has nothing.
func first(lookup env.Lookup, presetValue, def string, names ...string) string {
	for _, n := range names {
		if v := env.String(lookup, n, ""); v != "" {
			return v
		}
	}
	if presetValue != "" {
		return presetValue
	}
	return def
}

func firstSet(lookup env.Lookup, names ...string) string {
	for _, n := range names {
		if env.String(lookup, n, "") != "" {
			return n
		}
	}
	return names[len(names)-1]
}

// millis reads a duration in milliseconds, the specification's unit.
func millis(lookup env.Lookup, def time.Duration, names ...string) (time.Duration, error) {
	for _, n := range names {
		raw := env.String(lookup, n, "")
		if raw == "" {
			continue
		}
		ms, err := strconv.Atoi(raw)
		if err != nil || ms <= 0 || ms > 24*3600*1000 {
			return def, env.Errorf(n, raw, "want a positive number of milliseconds")
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return def, nil
}

// parseHeaders reads the specification's "k=v,k2=v2" with URL-encoded
// values, names canonicalised. Values are secrets: an error never echoes
// them.
func parseHeaders(name, raw string) (map[string]string, error) {
	kv, err := parseKeyValues(name, raw, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(kv))
	for k, v := range kv {
		if !validHeaderName(k) {
			return nil, &env.Error{Var: name, Value: raw, Secret: true, Reason: fmt.Sprintf("%q is not a valid header name", k)}
		}
		if !validHeaderValue(v) {
			return nil, &env.Error{Var: name, Value: raw, Secret: true, Reason: fmt.Sprintf("the value of %s contains a control character", k)}
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if _, dup := out[ck]; dup {
			return nil, &env.Error{Var: name, Value: raw, Secret: true, Reason: fmt.Sprintf("header %s is given twice", ck)}
		}
		out[ck] = v
	}
	return out, nil
}

func parseKeyValues(name, raw string, secret bool) (map[string]string, error) {
	pairs, err := env.Pairs(name, raw, secret)
	if err != nil || pairs == nil {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		dv, err := url.PathUnescape(kv[1])
		if err != nil {
			return nil, &env.Error{Var: name, Value: raw, Secret: secret, Reason: fmt.Sprintf("the value of %s is not URL-encoded correctly", kv[0])}
		}
		out[kv[0]] = dv
	}
	return out, nil
}

// Settings returns the effective configuration as NAME=value lines for
// `metricsbridge check`, with header values masked.
func (c Config) Settings() []string {
	var exporters []string
	if c.Prometheus {
		exporters = append(exporters, "prometheus")
	}
	if c.OTLP {
		exporters = append(exporters, "otlp")
	}
	if len(exporters) == 0 {
		exporters = []string{"none"}
	}
	keys := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	headers := make([]string, len(keys))
	for i, k := range keys {
		// Every header value is treated as a secret: the specification's
		// headers variable is where API keys go.
		headers[i] = fmt.Sprintf("%s=(hidden, %d bytes)", k, len(c.Headers[k]))
	}
	return []string{
		EnvExporters + "=" + strings.Join(exporters, ","),
		EnvVendor + "=" + c.Vendor,
		EnvSDKDisabled + "=" + strconv.FormatBool(c.SDKDisabled),
		"otlp.protocol=" + c.Protocol,
		"otlp.url=" + RedactURL(c.URL),
		"otlp.headers=" + strings.Join(headers, ","),
		"otlp.compression=" + c.Compression,
		"otlp.temporality=" + c.Temporality,
		"otlp.interval=" + c.Interval.String(),
		"otlp.timeout=" + c.Timeout.String(),
		"otlp.histogram_aggregation=" + c.HistogramAggregation,
		"otlp.certificate=" + c.TLSFiles.CA,
		"otlp.client_certificate=" + c.TLSFiles.ClientCert,
		"otlp.client_key=" + c.TLSFiles.ClientKey,
	}
}

// Resource describes this process for pushed metrics: service.name
// defaults to "metricsbridge" and service.version to version;
// OTEL_RESOURCE_ATTRIBUTES and then OTEL_SERVICE_NAME override them. A bad
// OTEL_RESOURCE_ATTRIBUTES is an error matching ErrConfig.
func Resource(lookup func(string) (string, bool), version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName("metricsbridge"), semconv.ServiceVersion(version)}
	kv, err := parseKeyValues(EnvResourceAttributes, env.String(lookup, EnvResourceAttributes, ""), false)
	if err != nil {
		return nil, env.Join(ErrConfig, err)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs = append(attrs, attribute.String(k, kv[k]))
	}
	if name := env.String(lookup, EnvServiceName, ""); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	// Later attributes with the same key win in NewWithAttributes.
	return resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
}
