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

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
)

// The variables ConfigFromEnv reads, listed in the package documentation.
const (
	envExporters          = otlpenv.EnvExporters
	envEndpoint           = otlpenv.EnvEndpoint
	envMetricsEndpoint    = otlpenv.EnvMetricsEndpoint
	envHeaders            = otlpenv.EnvHeaders
	envMetricsHeaders     = otlpenv.EnvMetricsHeaders
	envProtocol           = otlpenv.EnvProtocol
	envMetricsProtocol    = otlpenv.EnvMetricsProtocol
	envCompression        = otlpenv.EnvCompression
	envMetricsCompress    = otlpenv.EnvMetricsCompress
	envTimeout            = otlpenv.EnvTimeout
	envMetricsTimeout     = otlpenv.EnvMetricsTimeout
	envTemporality        = otlpenv.EnvTemporality
	envInterval           = otlpenv.EnvInterval
	envExportTimeout      = otlpenv.EnvExportTimeout
	envVendor             = otlpenv.EnvVendor
	envSplunkRealm        = otlpenv.EnvSplunkRealm
	envSplunkToken        = otlpenv.EnvSplunkToken
	envNewRelicKey        = otlpenv.EnvNewRelicKey
	envNewRelicRegion     = otlpenv.EnvNewRelicRegion
	envDatadogKey         = otlpenv.EnvDatadogKey
	envDatadogSite        = otlpenv.EnvDatadogSite
	envDatadogAgent       = otlpenv.EnvDatadogAgent
	envGrafanaEndpoint    = otlpenv.EnvGrafanaEndpoint
	envGrafanaInstance    = otlpenv.EnvGrafanaInstance
	envGrafanaToken       = otlpenv.EnvGrafanaToken
	envSDKDisabled        = otlpenv.EnvSDKDisabled
	envHistogramAggregate = otlpenv.EnvHistogramAggregation
)

// Protocol is the OTLP transport, as OTEL_EXPORTER_OTLP_PROTOCOL spells it.
type Protocol string

// The protocols the Go exporters implement; http/json is not one of them.
const (
	ProtocolHTTP Protocol = "http/protobuf"
	ProtocolGRPC Protocol = "grpc"
)

// Temporality is the aggregation temporality preference, as
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE spells it.
type Temporality string

// The temporality preferences of the specification.
const (
	Cumulative Temporality = "cumulative"
	// Delta is delta for counters and histograms, cumulative for
	// up-down counters.
	Delta Temporality = "delta"
	// LowMemory is delta for synchronous counters and histograms only.
	LowMemory Temporality = "lowmemory"
)

// Compression is the request body encoding, as
// OTEL_EXPORTER_OTLP_COMPRESSION spells it.
type Compression string

// The compressions of the specification.
const (
	CompressionGzip Compression = "gzip"
	CompressionNone Compression = "none"
)

// Vendor is a destination preset, as METRICS_OTLP_VENDOR spells it; empty
// is none.
type Vendor string

// The presets: each fills in the endpoint, headers, temporality and
// payload limits its vendor's OTLP page documents, from a few variables of
// its own.
const (
	// VendorCollector is an OpenTelemetry Collector on localhost:4318.
	VendorCollector Vendor = "collector"
	// VendorSplunk is Splunk Observability Cloud: SPLUNK_REALM,
	// SPLUNK_ACCESS_TOKEN.
	VendorSplunk Vendor = "splunk"
	// VendorNewRelic is New Relic: NEW_RELIC_LICENSE_KEY, NEW_RELIC_REGION.
	VendorNewRelic Vendor = "newrelic"
	// VendorDatadog is Datadog's intake (DD_API_KEY, DD_SITE) or a local
	// Agent (DD_AGENT_HOST).
	VendorDatadog Vendor = "datadog"
	// VendorGrafana is Grafana Cloud: GRAFANA_CLOUD_OTLP_ENDPOINT,
	// GRAFANA_CLOUD_INSTANCE_ID, GRAFANA_CLOUD_TOKEN.
	VendorGrafana Vendor = "grafana"
	// VendorPrometheus is a Prometheus server's OTLP receiver
	// (--web.enable-otlp-receiver) at OTEL_EXPORTER_OTLP_ENDPOINT, by
	// default http://localhost:9090. It pushes the scrape endpoint's
	// series, so the same queries work over push and scrape.
	VendorPrometheus Vendor = "prometheus"
)

// vendors lists every value of METRICS_OTLP_VENDOR.
var vendors = []Vendor{VendorCollector, VendorSplunk, VendorNewRelic, VendorDatadog, VendorGrafana, VendorPrometheus}

// prometheusOTLPPath is where a Prometheus server receives OTLP metrics
// (https://prometheus.io/docs/guides/opentelemetry/).
const (
	prometheusOTLPBase = "/api/v1/otlp"
	prometheusOTLPPath = prometheusOTLPBase + "/v1/metrics"
)

// datadogSites are the Datadog sites whose OTLP metrics intake is
// documented (https://docs.datadoghq.com/getting_started/site/ and
// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/,
// which is not offered on US1-FED, ddog-gov.com).
var datadogSites = []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ap2.datadoghq.com"}

// datadogMetricConfig is the dd-otel-metric-config header the Datadog
// preset sends (https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/,
// "Configure the metric translator"): resource attributes become tags, so
// replicas that differ in service.instance.id stay apart instead of
// overwriting each other's points (Datadog keeps the last point per second
// and tag set); histograms become distributions, the mode the page
// recommends, with .min/.max/.sum/.count beside them.
const datadogMetricConfig = `{"resource_attributes_as_tags":true,"histograms":{"mode":"distributions","send_aggregation_metrics":true}}`

// Config is the resolved push configuration.
type Config struct {
	// Prometheus and OTLP say which exporters OTEL_METRICS_EXPORTER chose.
	Prometheus bool
	OTLP       bool
	Vendor     Vendor
	Protocol   Protocol
	// URL is the full metrics endpoint: for HTTP it includes the path
	// (/v1/metrics unless a signal-specific endpoint said otherwise), for
	// gRPC it is scheme://host:port.
	URL         string
	Headers     map[string]string
	Compression Compression
	// Timeout bounds one export request; ExportTimeout one whole export
	// including our retries of refused connections.
	Timeout       time.Duration
	Temporality   Temporality
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
	// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION asked for:
	// "explicit_bucket_histogram" (the default) or
	// "base2_exponential_bucket_histogram". The pusher exports whatever
	// the MeterProvider aggregates; a program maps this onto its
	// histogram choice (otelmetrics.Config.Histograms) for both.
	HistogramAggregation string
	// SDKDisabled is OTEL_SDK_DISABLED: push is off whatever else says.
	SDKDisabled bool
	// TLSFiles are the certificate files the OTEL_EXPORTER_OTLP_*
	// certificate variables name; TLS is the client configuration built
	// from them, nil when none is set (the system roots verify https).
	TLSFiles TLSFiles
	TLS      *tls.Config
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
	protocol Protocol
	url      string // full metrics URL
	headers  map[string]string
	// headerVars names the variable each header value came from, for
	// errors; keys are canonical.
	headerVars  map[string]string
	temporality Temporality
	maxBatch    int
	maxBytes    int
	maxBuckets  int
	// explicitOnly: the destination takes no exponential histograms.
	explicitOnly bool
}

// ErrConfig is matched, under errors.Is, by every error of ConfigFromEnv.
// It is the module's one configuration sentinel, metricsbridge.ErrConfig.
var ErrConfig = metricsbridge.ErrConfig

// ConfigFromEnv resolves the push configuration. Precedence, highest first:
// the signal-specific OTEL_EXPORTER_OTLP_METRICS_* variable, the generic
// OTEL_EXPORTER_OTLP_* one, the vendor preset, the specification default.
// Every bad value is reported, one line each naming the variable and the
// value (secrets hidden); the error matches ErrConfig.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var errs []error
	c := Config{Headers: map[string]string{}}

	c.Vendor = Vendor(strings.ToLower(env.String(lookup, envVendor, "")))
	if c.Vendor != "" && !slices.Contains(vendors, c.Vendor) {
		errs = append(errs, env.Errorf(envVendor, string(c.Vendor), "want one of collector, splunk, newrelic, datadog, grafana, prometheus"))
		c.Vendor = ""
	}
	p, err := vendorPreset(c.Vendor, lookup)
	errs = append(errs, err)

	exporters, err := env.List(lookup, envExporters)
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
			errs = append(errs, env.Errorf(envExporters, strings.Join(exporters, ","), "unknown exporter %q: want prometheus, otlp or none, comma-separated", e))
		}
	}

	c.Protocol = Protocol(first(lookup, string(p.protocol), string(ProtocolHTTP), envMetricsProtocol, envProtocol))
	if c.Protocol != ProtocolHTTP && c.Protocol != ProtocolGRPC {
		name := otlpenv.FirstSet(lookup, envMetricsProtocol, envProtocol)
		errs = append(errs, env.Errorf(name, string(c.Protocol), "want %s or %s (http/json is not supported by the Go exporter)", ProtocolHTTP, ProtocolGRPC))
		c.Protocol = ProtocolHTTP
	}

	switch {
	case env.String(lookup, envMetricsEndpoint, "") != "":
		// Signal-specific endpoints are used as they are.
		c.URL = env.String(lookup, envMetricsEndpoint, "")
		errs = append(errs, checkURL(envMetricsEndpoint, c.URL))
	case env.String(lookup, envEndpoint, "") != "":
		base := env.String(lookup, envEndpoint, "")
		errs = append(errs, checkURL(envEndpoint, base))
		c.URL = base
		switch {
		case c.Vendor == VendorPrometheus:
			// The server's address is the natural thing to give; its
			// receiver's base, which the SDK convention would ask for,
			// works as well.
			c.URL = strings.TrimSuffix(strings.TrimRight(base, "/"), prometheusOTLPBase) + prometheusOTLPPath
		case c.Protocol == ProtocolHTTP:
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
	for _, name := range []string{envHeaders, envMetricsHeaders} {
		h, err := parseHeaders(name, env.String(lookup, name, ""))
		errs = append(errs, err)
		for k, v := range h {
			c.Headers[k], source[k] = v, name
		}
	}
	errs = append(errs, cleartextCheck(lookup, c.URL, source))

	c.Compression = Compression(strings.ToLower(first(lookup, "", string(CompressionGzip), envMetricsCompress, envCompression)))
	if c.Compression != CompressionGzip && c.Compression != CompressionNone {
		errs = append(errs, env.Errorf(otlpenv.FirstSet(lookup, envMetricsCompress, envCompression), string(c.Compression), "want gzip or none"))
	}

	c.Timeout, err = millis(lookup, defaultTimeout, envMetricsTimeout, envTimeout)
	errs = append(errs, err)
	c.Interval, err = millis(lookup, defaultInterval, envInterval)
	errs = append(errs, err)
	c.ExportTimeout, err = millis(lookup, defaultExportTimeout, envExportTimeout)
	errs = append(errs, err)

	c.Temporality = Temporality(strings.ToLower(first(lookup, string(p.temporality), string(Cumulative), envTemporality)))
	if c.Temporality != Cumulative && c.Temporality != Delta && c.Temporality != LowMemory {
		errs = append(errs, env.Errorf(envTemporality, string(c.Temporality), "want cumulative, delta or lowmemory"))
	}
	if c.Vendor == VendorDatadog && p.url != "" && c.Temporality != Delta && env.String(lookup, envDatadogKey, "") != "" {
		// lowmemory keeps asynchronous counters cumulative, which the
		// intake refuses as well.
		errs = append(errs, env.Errorf(envTemporality, string(c.Temporality), "Datadog's OTLP intake accepts only delta (cumulative sums are an error); use delta"))
	}
	if c.Vendor == VendorPrometheus && c.Temporality != Cumulative {
		// lowmemory makes counters and histograms delta as well.
		errs = append(errs, env.Errorf(envTemporality, string(c.Temporality), "Prometheus' OTLP receiver rejects delta data unless a feature flag converts it, and the pushed series are the scrape's cumulative ones; use cumulative"))
	}
	if c.Vendor == VendorPrometheus && c.Protocol != ProtocolHTTP {
		name := otlpenv.FirstSet(lookup, envMetricsProtocol, envProtocol)
		errs = append(errs, env.Errorf(name, string(c.Protocol), "Prometheus receives OTLP over HTTP only; use %s", ProtocolHTTP))
	}
	c.MaxBatch, c.MaxBytes, c.MaxBuckets, c.ExplicitOnly = p.maxBatch, p.maxBytes, p.maxBuckets, p.explicitOnly
	c.HistogramAggregation, err = histogramAggregation(lookup)
	errs = append(errs, err)
	// The specification's switch for the whole SDK; here it turns push
	// off, while the scrape endpoint stays governed by ENABLE_METRICS.
	disabled, err := env.Bool(lookup, envSDKDisabled, false)
	errs = append(errs, err)
	if disabled {
		c.OTLP, c.SDKDisabled = false, true
	}
	c.TLSFiles, c.TLS, err = loadTLS(lookup, c.URL)
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
	switch v := strings.ToLower(env.String(lookup, envHistogramAggregate, otlpenv.HistogramExplicit)); v {
	case otlpenv.HistogramExplicit, otlpenv.HistogramExponential:
		return v, nil
	default:
		return otlpenv.HistogramExplicit, env.Errorf(envHistogramAggregate, v, "want %s or %s", otlpenv.HistogramExplicit, otlpenv.HistogramExponential)
	}
}

// vendorPreset fills in a destination from a few vendor variables. The
// endpoints and headers are the vendors' documented OTLP ingest.
func vendorPreset(vendor Vendor, lookup env.Lookup) (preset, error) {
	required := func(name string) (string, error) {
		v := env.String(lookup, name, "")
		if v == "" {
			return "", env.Errorf(envVendor, string(vendor), "needs %s", name)
		}
		return v, nil
	}
	switch vendor {
	case VendorCollector:
		return preset{protocol: ProtocolHTTP, url: defaultHTTPEndpoint + "/v1/metrics", temporality: Cumulative}, nil
	case VendorSplunk:
		// https://docs.splunk.com/observability/en/gdi/other-ingestion-methods/rest-APIs-for-datapoints.html
		// OTLP over HTTP is ingested at /v2/datapoint/otlp, authenticated by
		// an org access token in X-SF-Token.
		// https://docs.splunk.com/observability/en/data-visualization/charts/histograms.html
		// asks for delta histograms (with min and max) and keeps explicit
		// bucket histograms of at most 31 buckets, dropping larger ones.
		realm, err1 := required(envSplunkRealm)
		token, err2 := required(envSplunkToken)
		if err := errors.Join(err1, err2); err != nil {
			return preset{}, err
		}
		if !validHostLabel(realm) {
			return preset{}, env.Errorf(envSplunkRealm, realm, "want a realm such as us0, us1, eu0")
		}
		return preset{protocol: ProtocolHTTP, url: "https://ingest." + realm + ".signalfx.com/v2/datapoint/otlp",
			headers: map[string]string{"X-SF-Token": token}, headerVars: map[string]string{"X-Sf-Token": envSplunkToken},
			temporality: Delta, maxBuckets: 31, explicitOnly: true}, checkSecret(envSplunkToken, token)
	case VendorNewRelic:
		// https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/
		// US https://otlp.nr-data.net, EU https://otlp.eu01.nr-data.net,
		// FedRAMP https://gov-otlp.nr-data.net; the license key in api-key;
		// delta temporality preferred; payloads up to 1 MB.
		key, err := required(envNewRelicKey)
		if err != nil {
			return preset{}, err
		}
		host := "otlp.nr-data.net"
		switch r := strings.ToLower(env.String(lookup, envNewRelicRegion, "us")); r {
		case "us":
		case "eu":
			host = "otlp.eu01.nr-data.net"
		case "fedramp":
			host = "gov-otlp.nr-data.net"
		default:
			return preset{}, env.Errorf(envNewRelicRegion, r, "want us, eu or fedramp")
		}
		return preset{protocol: ProtocolHTTP, url: "https://" + host + "/v1/metrics",
			headers: map[string]string{"api-key": key}, headerVars: map[string]string{"Api-Key": envNewRelicKey},
			temporality: Delta, maxBatch: 5000, maxBytes: newRelicMaxBytes}, checkSecret(envNewRelicKey, key)
	case VendorDatadog:
		// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest/metrics/
		// Direct intake: https://otlp.<site>/v1/metrics with dd-api-key and
		// dd-otel-metric-config, http/protobuf, delta only, 500 KB
		// uncompressed per payload (413 above).
		// https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest_in_the_agent/
		// Without an API key: the local Agent's OTLP receiver on :4318,
		// whose own configuration decides the translation.
		if key := env.String(lookup, envDatadogKey, ""); key != "" {
			site := strings.ToLower(env.String(lookup, envDatadogSite, "datadoghq.com"))
			if !slices.Contains(datadogSites, site) {
				reason := "want one of " + strings.Join(datadogSites, ", ")
				if site == "ddog-gov.com" {
					reason = "Datadog's OTLP metrics intake is not offered on ddog-gov.com; send through a Datadog Agent instead (unset DD_API_KEY, set DD_AGENT_HOST)"
				}
				return preset{}, env.Errorf(envDatadogSite, site, "%s", reason)
			}
			return preset{protocol: ProtocolHTTP, url: "https://otlp." + site + "/v1/metrics",
				headers:     map[string]string{"dd-api-key": key, "dd-otel-metric-config": datadogMetricConfig},
				headerVars:  map[string]string{"Dd-Api-Key": envDatadogKey, "Dd-Otel-Metric-Config": envVendor},
				temporality: Delta, maxBatch: 2000, maxBytes: datadogMaxBytes}, checkSecret(envDatadogKey, key)
		}
		host := env.String(lookup, envDatadogAgent, "localhost")
		if !validHost(host) {
			return preset{}, env.Errorf(envDatadogAgent, host, "want a host name or address")
		}
		return preset{protocol: ProtocolHTTP, url: "http://" + host + ":4318/v1/metrics", temporality: Delta}, nil
	case VendorGrafana:
		// https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/
		// The stack's OTLP gateway URL (ending in /otlp; the exporter
		// appends /v1/metrics), basic auth with the instance ID as user and
		// an access policy token as password. Cumulative, which Grafana
		// Cloud's Mimir stores natively.
		endpoint, err1 := required(envGrafanaEndpoint)
		id, err2 := required(envGrafanaInstance)
		token, err3 := required(envGrafanaToken)
		if err := errors.Join(err1, err2, err3); err != nil {
			return preset{}, err
		}
		if u, err := url.Parse(endpoint); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return preset{}, env.Errorf(envGrafanaEndpoint, otlpenv.RedactURL(endpoint), "want the stack's https:// OTLP gateway URL, such as https://otlp-gateway-prod-eu-west-2.grafana.net/otlp")
		}
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return preset{}, env.Errorf(envGrafanaInstance, id, "want the stack's numeric instance ID")
		}
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+token))
		return preset{protocol: ProtocolHTTP, url: strings.TrimRight(endpoint, "/") + "/v1/metrics",
			headers: map[string]string{"Authorization": auth}, headerVars: map[string]string{"Authorization": envGrafanaToken},
			temporality: Cumulative}, checkSecret(envGrafanaToken, token)
	case VendorPrometheus:
		// https://prometheus.io/docs/guides/opentelemetry/ : the receiver
		// at /api/v1/otlp/v1/metrics, http/protobuf, cumulative only by
		// default. No credentials: a reverse proxy's go in
		// OTEL_EXPORTER_OTLP_HEADERS.
		return preset{protocol: ProtocolHTTP, url: "http://localhost:9090" + prometheusOTLPPath, temporality: Cumulative}, nil
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
		return env.Errorf(name, otlpenv.RedactURL(raw), "credentials in the URL are not supported; send them as a header with %s", envHeaders)
	}
	return nil
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
	name := otlpenv.FirstSet(lookup, envMetricsEndpoint, envEndpoint)
	value := env.String(lookup, name, "")
	if value == "" {
		name, value = envVendor, env.String(lookup, envVendor, "")
	}
	return env.Errorf(name, otlpenv.RedactURL(value),
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
	kv, err := otlpenv.KeyValues(name, raw, true)
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
