package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
)

// TLSConfig builds the TLS settings of a registry connection: caPEM is added to the
// system's roots, and certPEM with keyPEM, when given, are the client certificate
// for mutual TLS. All three are optional, but certPEM and keyPEM go together.
func TLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("ca.crt holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case len(certPEM) > 0 && len(keyPEM) > 0:
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls.crt and tls.key are not a valid key pair: %w", sanitize(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	case len(certPEM) > 0:
		return nil, errors.New("tls.crt is given without tls.key")
	case len(keyPEM) > 0:
		return nil, errors.New("tls.key is given without tls.crt")
	}
	return cfg, nil
}

// sanitize keeps crypto/tls's description but never key material.
func sanitize(err error) error {
	return errors.New(err.Error())
}

// Transport returns a clone of http.DefaultTransport with cfg as its TLS settings.
func Transport(cfg *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t
}
