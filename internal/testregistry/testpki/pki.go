// Package testpki is the test kit's one throw-away certificate authority. It
// issues a server certificate for loopback, a client certificate, and, on
// demand, a server certificate for any host name a TLS client asks for. The
// TLS registries, the fault proxy, the cloud fakes (finders/cloudauth/cloudfake)
// and the TLS unit tests all use it.
//
// It imports only the standard library, so that fakes under finders/ can use
// it without the registry kit's dependencies.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// PKI is a CA with a server certificate (valid for localhost, 127.0.0.1 and
// ::1) and a client certificate, both signed by the CA. Every certificate is
// valid from an hour ago for a day.
type PKI struct {
	// CA is the CA certificate, CAPEM its PEM and CAKey its key (for a
	// signer whose certificate chain is the CA alone, as a token issuer's).
	CA    *x509.Certificate
	CAPEM []byte
	CAKey *ecdsa.PrivateKey
	// ServerCertPEM and ServerKeyPEM are the server certificate and its key (PKCS #8).
	ServerCertPEM, ServerKeyPEM []byte
	// ClientCertPEM and ClientKeyPEM are the client certificate and its key (PKCS #8).
	ClientCertPEM, ClientKeyPEM []byte
	// Server and Client are the two key pairs, ready for a tls.Config.
	Server, Client tls.Certificate

	mu     sync.Mutex
	leaves map[string]*tls.Certificate // by host name, issued by Leaf
}

// New creates a CA, a server and a client certificate, and fails the test on error.
func New(t testing.TB) *PKI {
	t.Helper()
	p, err := newPKI()
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return p
}

func newPKI() (*PKI, error) {
	p := &PKI{leaves: map[string]*tls.Certificate{}}
	ca, err := p.issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "testregistry test CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
	if err != nil {
		return nil, err
	}
	p.CA, p.CAPEM, p.CAKey = ca.Leaf, certPEM(ca), ca.PrivateKey.(*ecdsa.PrivateKey)
	srv, err := p.issue(serverTemplate("localhost", net.IPv4(127, 0, 0, 1), net.IPv6loopback))
	if err != nil {
		return nil, err
	}
	cli, err := p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "testregistry test client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	p.Server, p.Client = *srv, *cli
	p.ServerCertPEM, p.ClientCertPEM = certPEM(srv), certPEM(cli)
	if p.ServerKeyPEM, err = keyPEM(srv); err != nil {
		return nil, err
	}
	if p.ClientKeyPEM, err = keyPEM(cli); err != nil {
		return nil, err
	}
	return p, nil
}

// Leaf returns a server certificate for host (a DNS name or an IP address),
// signed by the CA. It is issued on the first call for each name and then
// reused; Leaf is safe for concurrent use. Serve it from a
// tls.Config.GetCertificate to answer for any name a client asks for by SNI.
func (p *PKI) Leaf(host string) (*tls.Certificate, error) {
	host = strings.ToLower(host)
	if host == "" {
		return nil, errors.New("testpki: no host name")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.leaves[host]; ok {
		return c, nil
	}
	c, err := p.issue(serverTemplate(host))
	if err != nil {
		return nil, err
	}
	p.leaves[host] = c
	return c, nil
}

// Pool returns a pool that holds the CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// ServerConfig is the TLS config of a server with the server certificate;
// with requireClientCert it asks for a client certificate signed by the CA.
func (p *PKI) ServerConfig(requireClientCert bool) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{p.Server},
		MinVersion:   tls.VersionTLS12,
	}
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.Pool()
	}
	return cfg
}

// Transport returns a clone of http.DefaultTransport that trusts the CA and,
// with clientCert, presents the client certificate.
func (p *PKI) Transport(clientCert bool) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: p.Pool(), MinVersion: tls.VersionTLS12}
	if clientCert {
		tr.TLSClientConfig.Certificates = []tls.Certificate{p.Client}
	}
	return tr
}

// serverTemplate is a server certificate for name (a DNS name or an IP
// address) and the IP addresses ips.
func serverTemplate(name string, ips ...net.IP) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: ips,
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else {
		tmpl.DNSNames = []string{name}
	}
	return tmpl
}

// issue creates a P-256 key and a certificate of tmpl for it, with a random
// serial number, valid from an hour ago for a day, signed by the CA
// (self-signed while there is no CA yet).
func (p *PKI) issue(tmpl *x509.Certificate) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testpki: key: %w", err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		return nil, fmt.Errorf("testpki: serial: %w", err)
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	parent, parentKey := p.CA, p.CAKey
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("testpki: certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func certPEM(c *tls.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
}

// keyPEM encodes c's key as PKCS #8.
func keyPEM(c *tls.Certificate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("testpki: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
