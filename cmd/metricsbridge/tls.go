package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// certReloader serves the certificate in a pair of files and re-reads them
// when asked or when they change, so rotation (cert-manager, certbot, a
// mounted Secret) needs no restart. A pair that does not load, as between
// the two writes of a rotation, leaves the previous certificate in use.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	stamp             string // modification stamps of the pair last loaded
	badStamp          string // of the pair last found not to load, logged once
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// tlsConfig leaves cipher suites and curves to crypto/tls, whose defaults
// are the modern ones and improve with each Go release; only TLS 1.0 and
// 1.1 are turned off.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cert.Load(), nil },
	}
}

// stampOf identifies the current contents of the pair well enough to tell
// a rewrite or a replaced symlink (how Kubernetes updates a mounted Secret).
func (c *certReloader) stampOf() (string, error) {
	var s string
	for _, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d:%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

func (c *certReloader) reload() error {
	stamp, err := c.stampOf()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	pair, _, err := loadKeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&pair)
	c.stamp = stamp
	leaf := pair.Leaf
	c.logger.Info("TLS certificate loaded", "file", c.certFile, "subject", leaf.Subject.String(),
		"dns_names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	if time.Until(leaf.NotAfter) < 0 {
		c.logger.Warn("the TLS certificate has expired", "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// watch reloads on every value from hup and whenever the files' stamps
// change, checking every interval, until ctx ends.
func (c *certReloader) watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := c.reload(); err != nil {
				c.logger.Error("TLS reload on SIGHUP failed; still serving the previous certificate", "err", err)
			}
		case <-t.C:
			stamp, err := c.stampOf()
			if err != nil || stamp == c.stamp || stamp == c.badStamp {
				continue
			}
			if err := c.reload(); err != nil {
				c.badStamp = stamp
				c.logger.Warn("TLS files changed but do not load; still serving the previous certificate", "err", err)
			}
		}
	}
}
