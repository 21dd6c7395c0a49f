package main

import (
	"crypto/tls"
	"fmt"

	"github.com/metricsbridge/metricsbridge/internal/credfile"
)

// loadKeyPair is tls.LoadX509KeyPair through credfile.Read: regular files
// of at most 1 MiB only, so a FIFO or /dev/zero named by mistake cannot
// hang the start or the reload, nor fill memory. warning is not empty when
// the group or others may read the private key.
func loadKeyPair(certFile, keyFile string) (pair tls.Certificate, warning string, err error) {
	cert, _, err := credfile.Read(certFile, credfile.MaxPEMBytes)
	if err != nil {
		return pair, "", fmt.Errorf("certificate file %s: %w", certFile, err)
	}
	key, warning, err := credfile.Read(keyFile, credfile.MaxPEMBytes)
	if err != nil {
		return pair, "", fmt.Errorf("key file %s: %w", keyFile, err)
	}
	pair, err = tls.X509KeyPair(cert, key)
	return pair, warning, err
}
