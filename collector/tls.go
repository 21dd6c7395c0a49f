package collector

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"

	"github.com/metricsbridge/metricsbridge/internal/credfile"
	"github.com/metricsbridge/metricsbridge/internal/env"
	"github.com/metricsbridge/metricsbridge/internal/otlpenv"
)

// The TLS variables, listed in the package documentation.
const (
	envCertificate              = otlpenv.EnvCertificate
	envMetricsCertificate       = otlpenv.EnvMetricsCertificate
	envClientCertificate        = otlpenv.EnvClientCertificate
	envMetricsClientCertificate = otlpenv.EnvMetricsClientCertificate
	envClientKey                = otlpenv.EnvClientKey
	envMetricsClientKey         = otlpenv.EnvMetricsClientKey
)

// TLSFiles are the paths of the exporter's TLS files; empty means unset.
type TLSFiles struct {
	// CA verifies the destination's certificate instead of the system
	// roots.
	CA string
	// ClientCert and ClientKey are presented to a destination that asks
	// for a client certificate (mTLS).
	ClientCert, ClientKey string
}

// loadTLS reads the TLS variables into files and a client configuration
// (nil when none is set). Who may read the client key is the binary's
// warning to give. The Go exporters
// apply these variables only to a client they build themselves, and the
// pusher builds its own, so they are read here, for both protocols. Each
// file is read as the credential files are: a regular file of at most
// 1 MiB, so a FIFO or a device named by mistake is refused at once rather
// than hanging the start.
func loadTLS(lookup env.Lookup, rawURL string) (TLSFiles, *tls.Config, error) {
	var f TLSFiles
	caVar := otlpenv.FirstSet(lookup, envMetricsCertificate, envCertificate)
	certVar := otlpenv.FirstSet(lookup, envMetricsClientCertificate, envClientCertificate)
	keyVar := otlpenv.FirstSet(lookup, envMetricsClientKey, envClientKey)
	f.CA, f.ClientCert, f.ClientKey = env.String(lookup, caVar, ""), env.String(lookup, certVar, ""), env.String(lookup, keyVar, "")
	if f == (TLSFiles{}) {
		return f, nil, nil
	}
	var errs []error
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		// A CA certificate is public: who may read its file does not
		// matter.
		pem, _, err := credfile.Read(f.CA, credfile.MaxPEMBytes)
		switch {
		case err != nil:
			errs = append(errs, env.Errorf(caVar, f.CA, "cannot read the CA certificate file: %v", err))
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, env.Errorf(caVar, f.CA, "no PEM certificate in the file"))
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case f.ClientCert != "" && f.ClientKey == "":
		errs = append(errs, env.Errorf(certVar, f.ClientCert, "needs %s, the client certificate's private key", envClientKey))
	case f.ClientCert == "" && f.ClientKey != "":
		errs = append(errs, env.Errorf(keyVar, f.ClientKey, "needs %s, the certificate of this private key", envClientCertificate))
	case f.ClientCert != "":
		certPEM, _, err1 := credfile.Read(f.ClientCert, credfile.MaxPEMBytes)
		keyPEM, _, err2 := credfile.Read(f.ClientKey, credfile.MaxPEMBytes)
		switch {
		case err1 != nil:
			errs = append(errs, env.Errorf(certVar, f.ClientCert, "cannot read the client certificate file: %v", err1))
		case err2 != nil:
			errs = append(errs, env.Errorf(keyVar, f.ClientKey, "cannot read the client key file: %v", err2))
		default:
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				// The parse error never quotes the key.
				errs = append(errs, env.Errorf(certVar, f.ClientCert, "with %s=%s: not a certificate and matching private key: %v", keyVar, f.ClientKey, err))
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "http" {
		name, value := caVar, f.CA
		if value == "" {
			name, value = certVar, f.ClientCert
		}
		if value == "" {
			name, value = keyVar, f.ClientKey
		}
		errs = append(errs, env.Errorf(name, value, "a TLS file is set but the OTLP endpoint %s is plain http://; use https://", otlpenv.RedactURL(rawURL)))
	}
	if err := errors.Join(errs...); err != nil {
		return f, nil, err
	}
	return f, cfg, nil
}
