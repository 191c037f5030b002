package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

// testPKI is the test kit's CA, with a server certificate for localhost,
// 127.0.0.1 and ::1 and a client certificate.
type testPKI struct{ *testpki.PKI }

func newTestPKI(t *testing.T) testPKI { return testPKI{testpki.New(t)} }

// verifies reports whether pool trusts a certificate issued by the CA of p.
func (p testPKI) verifies(pool *x509.CertPool) bool {
	block, _ := pem.Decode(p.ServerCertPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"})
	return err == nil
}

func TestTLSConfigEmpty(t *testing.T) {
	cfg, err := auth.TLSConfig(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs != nil || len(cfg.Certificates) != 0 {
		t.Errorf("RootCAs = %v, %d certificates; want the system roots and none", cfg.RootCAs, len(cfg.Certificates))
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want at least TLS 1.2", cfg.MinVersion)
	}
	if cfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set")
	}
}

func TestTLSConfigCA(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := auth.TLSConfig(p.CAPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil {
		t.Fatal("RootCAs is nil")
	}
	if !p.verifies(cfg.RootCAs) {
		t.Error("RootCAs does not trust the CA")
	}
	if other := newTestPKI(t); other.verifies(cfg.RootCAs) {
		t.Error("RootCAs trusts another CA")
	}
	if len(cfg.Certificates) != 0 {
		t.Errorf("%d client certificates, want none", len(cfg.Certificates))
	}
	if cfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set")
	}

	// Several CAs in one bundle, and PEM with other text around it.
	q := newTestPKI(t)
	bundle := append(append([]byte("# our CAs\n"), p.CAPEM...), q.CAPEM...)
	cfg, err = auth.TLSConfig(bundle, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.verifies(cfg.RootCAs) || !q.verifies(cfg.RootCAs) {
		t.Error("a CA of the bundle is not trusted")
	}
}

func TestTLSConfigClientCertificate(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := auth.TLSConfig(p.CAPEM, p.ClientCertPEM, p.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Certificates) != 1 {
		t.Fatalf("%d client certificates, want 1", len(cfg.Certificates))
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "testregistry test client" {
		t.Errorf("client certificate is %q", leaf.Subject.CommonName)
	}

	// Without a CA: the client certificate alone, over the system roots.
	cfg, err = auth.TLSConfig(nil, p.ClientCertPEM, p.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs != nil || len(cfg.Certificates) != 1 {
		t.Errorf("RootCAs = %v, %d certificates; want nil and 1", cfg.RootCAs, len(cfg.Certificates))
	}
}

// TestTLSConfigMutualTLS uses the config against a server that requires a
// client certificate from the CA.
func TestTLSConfigMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	srvCert, err := tls.X509KeyPair(p.ServerCertPEM, p.ServerKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	get := func(cfg *tls.Config) error {
		c := &http.Client{Transport: auth.Transport(cfg), Timeout: 10 * time.Second}
		defer c.CloseIdleConnections()
		resp, err := c.Get(srv.URL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}

	full, err := auth.TLSConfig(p.CAPEM, p.ClientCertPEM, p.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(full); err != nil {
		t.Errorf("with CA and client certificate: %v", err)
	}
	caOnly, err := auth.TLSConfig(p.CAPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(caOnly); err == nil {
		t.Error("without a client certificate the server accepted the connection")
	}
	none, err := auth.TLSConfig(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(none); err == nil {
		t.Error("without the CA the server certificate was trusted")
	}
}

func TestTransport(t *testing.T) {
	cfg, err := auth.TLSConfig(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := auth.Transport(cfg)
	if tr.TLSClientConfig != cfg {
		t.Error("Transport does not use the config")
	}
	if tr == http.DefaultTransport {
		t.Error("Transport returned http.DefaultTransport itself")
	}
	if http.DefaultTransport.(*http.Transport).TLSClientConfig == cfg {
		t.Error("Transport changed http.DefaultTransport")
	}
	if tr.Proxy == nil {
		t.Error("Transport lost the default proxy settings")
	}
}

func TestTLSConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	q := newTestPKI(t)
	tests := []struct {
		name              string
		ca, cert, key     []byte
		want              string
		mustNotContainKey bool
	}{
		{"cert without key", nil, p.ClientCertPEM, nil, "tls.crt is given without tls.key", false},
		{"cert without key, with CA", p.CAPEM, p.ClientCertPEM, nil, "tls.crt is given without tls.key", false},
		{"key without cert", nil, nil, p.ClientKeyPEM, "tls.key is given without tls.crt", true},
		{"key without cert, with CA", p.CAPEM, nil, p.ClientKeyPEM, "tls.key is given without tls.crt", true},
		{"garbage CA", []byte("this is not a certificate"), nil, nil, "holds no PEM certificate", false},
		{"CA of another PEM type", p.ClientKeyPEM, nil, nil, "holds no PEM certificate", true},
		{"corrupt CA PEM", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), nil, nil, "holds no PEM certificate", false},
		{"garbage CA with a good pair", []byte("garbage"), p.ClientCertPEM, p.ClientKeyPEM, "holds no PEM certificate", false},
		{"mismatched pair", nil, p.ClientCertPEM, q.ClientKeyPEM, "not a valid key pair", true},
		{"key in place of the cert", nil, p.ClientKeyPEM, p.ClientKeyPEM, "not a valid key pair", true},
		{"garbage key", nil, p.ClientCertPEM, []byte("not a key"), "not a valid key pair", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := auth.TLSConfig(tt.ca, tt.cert, tt.key)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if cfg != nil {
				t.Error("config returned with an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			for _, key := range [][]byte{p.ClientKeyPEM, q.ClientKeyPEM} {
				block, _ := pem.Decode(key)
				body := strings.Split(strings.TrimSpace(string(key)), "\n")[1]
				if strings.Contains(msg, body) || strings.Contains(msg, string(block.Bytes)) || strings.Contains(msg, "PRIVATE KEY-----") {
					t.Errorf("error %q contains key material", msg)
				}
			}
		})
	}
}
