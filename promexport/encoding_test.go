package promexport_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Accept-Encoding as clients and hostile scrapers really send it, judged by
// RFC 9110 §12.5.3: gzip only when the client finds it acceptable and does
// not prefer identity, otherwise the plain body (also when nothing at all
// is acceptable, as the header may then be disregarded). Either way the
// body is valid exposition text and the response says it varies on the
// header.
func TestAcceptEncoding(t *testing.T) {
	h := endpoint(t)
	for _, tc := range []struct {
		name   string
		values []string // Accept-Encoding field lines; nil sends none
		gzip   bool
	}{
		{"absent", nil, false},
		{"empty", []string{""}, false},
		{"gzip", []string{"gzip"}, true},
		{"upper case", []string{"GZIP"}, true},
		{"x-gzip alias", []string{"x-gzip"}, true},
		{"curl --compressed", []string{"deflate, gzip, br, zstd"}, true},
		{"browser", []string{"gzip, deflate, br"}, true},
		{"refused", []string{"gzip;q=0"}, false},
		{"refused, upper-case weight and spaces", []string{"gzip ; Q=0"}, false},
		{"refused with three decimals", []string{"gzip;q=0.000"}, false},
		{"lowest weight", []string{"gzip;q=0.001"}, true},
		{"full weight with decimals", []string{"gzip;q=1.000"}, true},
		{"identity refused, gzip not offered", []string{"identity;q=0"}, false},
		{"everything refused", []string{"*;q=0"}, false},
		{"identity and gzip refused", []string{"identity;q=0, gzip;q=0"}, false},
		{"anything", []string{"*"}, true},
		{"anything but identity", []string{"identity;q=0, *"}, true},
		{"identity less wanted than anything", []string{"identity;q=0.1, *;q=0.5"}, true},
		{"gzip named beside a refusing wildcard", []string{"*;q=0, gzip"}, true},
		{"gzip refused beside a wildcard", []string{"gzip;q=0, *"}, false},
		{"only brotli", []string{"br"}, false},
		{"only unknown codings", []string{"br, zstd, x-snappy-framed"}, false},
		{"identity preferred", []string{"gzip;q=0.5, identity;q=1"}, false},
		{"identity and gzip equal", []string{"identity;q=0.5, gzip;q=0.5"}, true},
		{"gzip preferred to identity", []string{"identity;q=0.5, gzip"}, true},
		{"duplicate with a refusal", []string{"gzip, gzip;q=0"}, false},
		{"two field lines", []string{"br", "gzip"}, true},
		{"refusal on a second field line", []string{"gzip", "gzip;q=0"}, false},
		{"empty list elements", []string{",, ,gzip,,"}, true},
		{"surrounding whitespace", []string{" \tgzip\t "}, true},
		{"weight above 1", []string{"gzip;q=2"}, false},
		{"weight with four decimals", []string{"gzip;q=0.5000"}, false},
		{"negative weight", []string{"gzip;q=-1"}, false},
		{"empty weight", []string{"gzip;q="}, false},
		{"weight without leading digit", []string{"gzip;q=.5"}, false},
		{"other parameter", []string{"gzip;level=9"}, false},
		{"two weights", []string{"gzip;q=0;q=1"}, false},
		{"quoted coding", []string{`"gzip"`}, false},
		{"prefix of gzip", []string{"gzi"}, false},
		{"gzip as a prefix", []string{"gzipx"}, false},
		{"malformed element before gzip", []string{"br;;q=1=2, gzip"}, true},
		{"garbage", []string{"\x00\xff;;,,=q=\"\\"}, false},
		{"separators only", []string{";;;,,q="}, false},
		{"16 KiB list ending in gzip", []string{strings.Repeat("br;q=0.5, ", 1638) + "gzip"}, true},
		{"long list ending in gzip", []string{strings.Repeat("br;q=0.5, ", 10_000) + "gzip"}, true},
		{"long list ending in a refusal", []string{strings.Repeat("gzip;q=0.9, ", 10_000) + "gzip;q=0"}, false},
		{"long token", []string{strings.Repeat("g", 1<<20)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
			if tc.values != nil {
				r.Header["Accept-Encoding"] = tc.values
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			resp := rec.Result()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			checkVary(t, resp.Header, "Accept-Encoding", "Accept")
			body := rec.Body.Bytes()
			isGzip := bytes.HasPrefix(body, []byte{0x1f, 0x8b})
			switch ce := resp.Header.Values("Content-Encoding"); {
			case tc.gzip && (len(ce) != 1 || ce[0] != "gzip" || !isGzip):
				t.Fatalf("Content-Encoding %q, gzip magic %t; want a gzip body", ce, isGzip)
			case !tc.gzip && (len(ce) != 0 || isGzip):
				t.Fatalf("Content-Encoding %q, gzip magic %t; want a plain body", ce, isGzip)
			}
			if tc.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("gzip body: %v", err)
				}
			}
			parser := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := parser.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
				t.Fatalf("body does not parse: %v\n%s", err, body)
			}
			if !bytes.Contains(body, []byte(`http_requests_total{handler="/tools/invoke",method="POST",status="200"} 1`)) {
				t.Errorf("body lacks the counter:\n%s", body)
			}
			promtest.CheckMetrics(t, body)
		})
	}
}

// checkVary fails unless the Vary field lines list every one of names.
func checkVary(t *testing.T, h http.Header, names ...string) {
	t.Helper()
	var listed []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			listed = append(listed, http.CanonicalHeaderKey(strings.TrimSpace(f)))
		}
	}
	for _, n := range names {
		if !strings.Contains(","+strings.Join(listed, ",")+",", ","+n+",") {
			t.Errorf("Vary %q lacks %s", h.Values("Vary"), n)
		}
	}
}

// When nothing can be gathered the endpoint answers 500 in plain text, and
// a client that asked for gzip must not be told the error is compressed.
func TestGatherErrorIsPlainWhateverTheEncoding(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(failingCollector{})
	// An exporter whose Reader is registered with no provider has nothing
	// of its own to serve, so the failing collector is all there is to
	// gather.
	e, err := promexport.New(promexport.WithRegistry(reg), promexport.WithNames(promexport.NamesSemconv))
	if err != nil {
		t.Fatal(err)
	}
	for _, ae := range []string{"", "gzip"} {
		r := httptest.NewRequest(http.MethodGet, "/metrics/prometheus", nil)
		r.Header.Set("Accept-Encoding", ae)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Encoding") != "" ||
			!strings.Contains(rec.Body.String(), "collector is broken") {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, body %q", ae, rec.Code, rec.Header().Get("Content-Encoding"), rec.Body.String())
		}
	}
}

type failingCollector struct{}

var failingDesc = prometheus.NewDesc("failing", "Always fails.", nil, nil)

func (failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- failingDesc }
func (failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(failingDesc, errors.New("collector is broken"))
}
