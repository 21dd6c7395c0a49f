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

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metricsbridge/metricsbridge/internal/promtest"
	"github.com/metricsbridge/metricsbridge/promexport"
)

// Accept-Encoding as clients and hostile scrapers really send it, judged by
// RFC 9110 §12.5.3: zstd or gzip only when the client finds it acceptable
// and does not prefer identity, the higher weight winning and zstd, when
// named, winning a tie; otherwise the plain body (also when nothing at all
// is acceptable, as the header may then be disregarded). Either way the
// body is valid exposition text and the response says it varies on the
// header.
func TestAcceptEncoding(t *testing.T) {
	h := endpoint(t)
	const plain, gz, zs = "", "gzip", "zstd"
	for _, tc := range []struct {
		name   string
		values []string // Accept-Encoding field lines; nil sends none
		want   string   // Content-Encoding
	}{
		{"absent", nil, plain},
		{"empty", []string{""}, plain},
		{"gzip", []string{"gzip"}, gz},
		{"upper case", []string{"GZIP"}, gz},
		{"x-gzip alias", []string{"x-gzip"}, gz},
		{"curl --compressed", []string{"deflate, gzip, br, zstd"}, zs},
		{"browser with zstd", []string{"gzip, deflate, br, zstd"}, zs},
		{"browser", []string{"gzip, deflate, br"}, gz},
		{"refused", []string{"gzip;q=0"}, plain},
		{"refused, upper-case weight and spaces", []string{"gzip ; Q=0"}, plain},
		{"refused with three decimals", []string{"gzip;q=0.000"}, plain},
		{"lowest weight", []string{"gzip;q=0.001"}, gz},
		{"full weight with decimals", []string{"gzip;q=1.000"}, gz},
		{"identity refused, gzip not offered", []string{"identity;q=0"}, plain},
		{"everything refused", []string{"*;q=0"}, plain},
		{"identity and gzip refused", []string{"identity;q=0, gzip;q=0"}, plain},
		{"anything", []string{"*"}, gz},
		{"anything but identity", []string{"identity;q=0, *"}, gz},
		{"identity less wanted than anything", []string{"identity;q=0.1, *;q=0.5"}, gz},
		{"gzip named beside a refusing wildcard", []string{"*;q=0, gzip"}, gz},
		{"gzip refused beside a wildcard", []string{"gzip;q=0, *"}, zs},
		{"only brotli", []string{"br"}, plain},
		{"only unknown codings", []string{"br, x-snappy-framed"}, plain},
		{"identity preferred", []string{"gzip;q=0.5, identity;q=1"}, plain},
		{"identity and gzip equal", []string{"identity;q=0.5, gzip;q=0.5"}, gz},
		{"gzip preferred to identity", []string{"identity;q=0.5, gzip"}, gz},
		{"duplicate with a refusal", []string{"gzip, gzip;q=0"}, plain},
		{"two field lines", []string{"br", "gzip"}, gz},
		{"refusal on a second field line", []string{"gzip", "gzip;q=0"}, plain},
		{"empty list elements", []string{",, ,gzip,,"}, gz},
		{"surrounding whitespace", []string{" \tgzip\t "}, gz},
		{"weight above 1", []string{"gzip;q=2"}, plain},
		{"weight with four decimals", []string{"gzip;q=0.5000"}, plain},
		{"negative weight", []string{"gzip;q=-1"}, plain},
		{"empty weight", []string{"gzip;q="}, plain},
		{"weight without leading digit", []string{"gzip;q=.5"}, plain},
		{"other parameter", []string{"gzip;level=9"}, plain},
		{"two weights", []string{"gzip;q=0;q=1"}, plain},
		{"quoted coding", []string{`"gzip"`}, plain},
		{"prefix of gzip", []string{"gzi"}, plain},
		{"gzip as a prefix", []string{"gzipx"}, plain},
		{"malformed element before gzip", []string{"br;;q=1=2, gzip"}, gz},
		{"garbage", []string{"\x00\xff;;,,=q=\"\\"}, plain},
		{"separators only", []string{";;;,,q="}, plain},
		{"16 KiB list ending in gzip", []string{strings.Repeat("br;q=0.5, ", 1638) + "gzip"}, gz},
		{"long list ending in gzip", []string{strings.Repeat("br;q=0.5, ", 10_000) + "gzip"}, gz},
		{"long list ending in a refusal", []string{strings.Repeat("gzip;q=0.9, ", 10_000) + "gzip;q=0"}, plain},
		{"long token", []string{strings.Repeat("g", 1<<20)}, plain},
		{"zstd", []string{"zstd"}, zs},
		{"Prometheus 3 with zstd-scrape", []string{"zstd,gzip"}, zs},
		{"gzip listed before zstd", []string{"gzip,zstd"}, zs},
		{"zstd upper case", []string{"ZSTD"}, zs},
		{"zstd refused", []string{"zstd;q=0"}, plain},
		{"zstd refused, gzip accepted", []string{"zstd;q=0, gzip"}, gz},
		{"gzip preferred to zstd", []string{"zstd;q=0.5, gzip"}, gz},
		{"zstd preferred to gzip", []string{"zstd, gzip;q=0.999"}, zs},
		{"zstd beside a wildcard", []string{"*, zstd"}, zs},
		{"wildcard weighted above zstd", []string{"zstd;q=0.5, *"}, gz},
		{"zstd beside a refusing wildcard", []string{"*;q=0, zstd"}, zs},
		{"zstd refused beside a wildcard", []string{"zstd;q=0, *"}, gz},
		{"identity preferred to zstd", []string{"zstd;q=0.5, identity"}, plain},
		{"identity and zstd equal", []string{"identity;q=0.5, zstd;q=0.5"}, zs},
		{"zstd duplicate with a refusal", []string{"zstd, zstd;q=0"}, plain},
		{"zstd refused on a second field line", []string{"zstd, gzip", "zstd;q=0"}, gz},
		{"prefix of zstd", []string{"zst"}, plain},
		{"zstd with another parameter", []string{"zstd;level=19"}, plain},
		{"long list ending in zstd", []string{strings.Repeat("br;q=0.5, ", 10_000) + "zstd"}, zs},
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
			magic := magicEncoding(body)
			switch ce := resp.Header.Values("Content-Encoding"); {
			case tc.want == plain && (len(ce) != 0 || magic != plain):
				t.Fatalf("Content-Encoding %q, body looks %q; want a plain body", ce, magic)
			case tc.want != plain && (len(ce) != 1 || ce[0] != tc.want || magic != tc.want):
				t.Fatalf("Content-Encoding %q, body looks %q; want a %s body", ce, magic, tc.want)
			}
			body = decode(t, tc.want, body)
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

// magicEncoding names the compression a body's first bytes announce.
func magicEncoding(body []byte) string {
	switch {
	case bytes.HasPrefix(body, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(body, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// decode undoes a Content-Encoding as Prometheus 3 does: zstd with its
// decoder's 8 MiB window limit, which a frame announcing a larger window
// fails.
func decode(t testing.TB, encoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		var fh zstd.Header
		if err := fh.Decode(body); err != nil {
			t.Fatalf("zstd frame header: %v", err)
		}
		if fh.WindowSize > prometheusZstdWindow {
			t.Errorf("zstd window %d bytes, above Prometheus' %d", fh.WindowSize, prometheusZstdWindow)
		}
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(prometheusZstdWindow))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown encoding %q", encoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body: %v", encoding, err)
	}
	return out
}

// prometheusZstdWindow is the largest window Prometheus 3's scrape decoder
// accepts (zstdMaxWindowSize in its scrape/scrape.go).
const prometheusZstdWindow = 8 << 20

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
	for _, ae := range []string{"", "gzip", "zstd,gzip"} {
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
