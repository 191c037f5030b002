package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// PKI is the test kit's one throw-away certificate authority, with a server
// certificate (valid for localhost, 127.0.0.1 and ::1) and a client
// certificate, both signed by the CA and valid for a day. The TLS registries,
// the fault proxy and the TLS unit tests all use it.
type PKI struct {
	// CA is the CA certificate; CAPEM its PEM.
	CA    *x509.Certificate
	CAPEM []byte
	// ServerCertPEM and ServerKeyPEM are the server certificate and its key (PKCS #8).
	ServerCertPEM, ServerKeyPEM []byte
	// ClientCertPEM and ClientKeyPEM are the client certificate and its key (PKCS #8).
	ClientCertPEM, ClientKeyPEM []byte
	// Server and Client are the two key pairs, ready for a tls.Config.
	Server, Client tls.Certificate
}

// NewPKI creates a CA, a server and a client certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	caCert, caPEM := createCert(t, &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "testregistry test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, caKey, nil, nil)
	p := &PKI{CA: caCert, CAPEM: caPEM}

	srvKey := newKey(t)
	_, p.ServerCertPEM = createCert(t, &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, srvKey, caCert, caKey)
	p.ServerKeyPEM = keyPEM(t, srvKey)

	cliKey := newKey(t)
	_, p.ClientCertPEM = createCert(t, &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "testregistry test client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, cliKey, caCert, caKey)
	p.ClientKeyPEM = keyPEM(t, cliKey)

	var err error
	if p.Server, err = tls.X509KeyPair(p.ServerCertPEM, p.ServerKeyPEM); err != nil {
		t.Fatalf("testregistry: server key pair: %v", err)
	}
	if p.Client, err = tls.X509KeyPair(p.ClientCertPEM, p.ClientKeyPEM); err != nil {
		t.Fatalf("testregistry: client key pair: %v", err)
	}
	return p
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

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testregistry: key: %v", err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("testregistry: serial: %v", err)
	}
	return n
}

// createCert signs tmpl with parent/parentKey (self-signed when parent is nil).
func createCert(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
	t.Helper()
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("testregistry: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testregistry: parse certificate: %v", err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// keyPEM encodes key as PKCS #8.
func keyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testregistry: marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
