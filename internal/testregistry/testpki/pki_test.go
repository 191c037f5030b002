package testpki_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

func get(t *testing.T, tr *http.Transport, url string) error {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func TestServerAndClientCertificates(t *testing.T) {
	p := testpki.New(t)
	block, _ := pem.Decode(p.CAPEM)
	if block == nil || !p.CA.Equal(mustParse(t, block.Bytes)) {
		t.Fatalf("CAPEM does not hold the CA")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = p.ServerConfig(true)
	srv.StartTLS()
	defer srv.Close()

	if err := get(t, p.Transport(true), srv.URL); err != nil {
		t.Errorf("with the client certificate: %v", err)
	}
	if err := get(t, p.Transport(false), srv.URL); err == nil {
		t.Errorf("without a client certificate: the server took the request")
	}
	if err := get(t, http.DefaultTransport.(*http.Transport).Clone(), srv.URL); err == nil {
		t.Errorf("a client that does not trust the CA connected")
	}
}

func TestLeafAnswersForAnyServerName(t *testing.T) {
	p := testpki.New(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return p.Leaf(h.ServerName) }}
	srv.StartTLS()
	defer srv.Close()
	tr := p.Transport(false)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	for _, host := range []string{"registry.example.test", "sts.amazonaws.com"} {
		if err := get(t, tr, "https://"+host+"/"); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}

	a, err := p.Leaf("Registry.Example.TEST")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := p.Leaf("registry.example.test"); a != b {
		t.Errorf("Leaf issued a second certificate for the same name")
	}
	if diff := cmp.Diff([]string{"registry.example.test"}, a.Leaf.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if _, err := a.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example.test", Roots: p.Pool()}); err == nil {
		t.Errorf("the leaf of registry.example.test verifies for other.example.test")
	}
	ip, err := p.Leaf("10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Leaf.Verify(x509.VerifyOptions{DNSName: "10.1.2.3", Roots: p.Pool()}); err != nil {
		t.Errorf("the leaf of 10.1.2.3: %v", err)
	}
	if _, err := p.Leaf(""); err == nil {
		t.Errorf("Leaf issued a certificate for no name")
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
