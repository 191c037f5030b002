// Package cloudfake fakes the endpoints cloudauth talks to, written from the
// providers' public API documentation: AWS STS and ECR (and ECR Public), Google
// STS, IAM Credentials and the GCE metadata server, and Entra ID's token endpoint
// with ACR's /oauth2/exchange. They run in-process, under TLS on loopback where
// the real ones are HTTPS, behind their real host names: Cloud's client resolves
// every name to its one listener, and trusts the test kit's certificate
// authority (testpki), which issues each name its certificate.
//
// The fakes check what the real endpoints check that matters here: the token's
// audience, subject and expiry against a trust list, the credentials they issued
// themselves, and the request's shape. They do not verify JWT signatures.
package cloudfake

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

// Clock tells the fakes' time; give them the test's fake clock.
type Clock interface{ Now() time.Time }

// Cloud is one TLS server on loopback that answers for many host names, routing
// each request by its Host to the handler registered for that name.
type Cloud struct {
	srv *httptest.Server
	pki *testpki.PKI

	mu       sync.Mutex
	hosts    map[string]http.Handler
	requests map[string]int
}

// NewCloud starts a Cloud, closed when the test ends.
func NewCloud(t testing.TB) *Cloud {
	t.Helper()
	c := &Cloud{pki: testpki.New(t), hosts: map[string]http.Handler{}, requests: map[string]int{}}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	c.srv.TLS = &tls.Config{GetCertificate: c.certificate, MinVersion: tls.VersionTLS12}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	return c
}

// Handle makes the Cloud answer for host (a name without a port) with h.
func (c *Cloud) Handle(host string, h http.Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hosts[strings.ToLower(host)] = h
}

// Handler returns the handler registered for host, nil if none.
func (c *Cloud) Handler(host string) http.Handler {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[strings.ToLower(host)]
}

// Addr is the listener's address, where every name leads.
func (c *Cloud) Addr() string { return c.srv.Listener.Addr().String() }

// PKI is the certificate authority that issues the Cloud's certificates: its
// Pool to trust them, its CAPEM for a certSecretRef Secret.
func (c *Cloud) PKI() *testpki.PKI { return c.pki }

// DialContext connects every address of a registered name to the Cloud's
// listener, and a loopback IP address (such as the metadata server's) to itself;
// anything else is refused, so nothing leaves the machine.
func (c *Cloud) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return d.DialContext(ctx, network, addr)
	}
	c.mu.Lock()
	_, ok := c.hosts[strings.ToLower(host)]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("cloudfake: no fake answers for %s", addr)
	}
	return d.DialContext(ctx, network, c.Addr())
}

// Transport is an HTTP transport that reaches the Cloud's names through its dialer.
func (c *Cloud) Transport() *http.Transport {
	return &http.Transport{
		DialContext:     c.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: c.pki.Pool(), MinVersion: tls.VersionTLS12},
	}
}

// Client is an HTTP client over Transport.
func (c *Cloud) Client() *http.Client {
	return &http.Client{Transport: c.Transport(), Timeout: 10 * time.Second}
}

// Requests counts the requests each host received.
func (c *Cloud) Requests(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[strings.ToLower(host)]
}

func (c *Cloud) serve(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c.mu.Lock()
	h, ok := c.hosts[host]
	c.requests[host]++
	c.mu.Unlock()
	if !ok {
		http.Error(w, "cloudfake: unknown host "+host, http.StatusMisdirectedRequest)
		return
	}
	h.ServeHTTP(w, r)
}

// certificate answers for the names the Cloud has a handler for, with the
// certificate the PKI issues each (once).
func (c *Cloud) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c.Handler(hello.ServerName) == nil {
		return nil, fmt.Errorf("cloudfake: no certificate for %q", hello.ServerName)
	}
	return c.pki.Leaf(hello.ServerName)
}

// random returns n random bytes in hex, for identifiers and tokens.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Faults makes a fake fail its next requests.
type Faults struct {
	mu     sync.Mutex
	status int
	n      int
}

// FailNext makes the next n requests answer status.
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.status = n, status
}

// fail answers with the injected status if one is pending.
func (f *Faults) fail(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return false
	}
	f.n--
	http.Error(w, http.StatusText(f.status), f.status)
	return true
}

// Counter counts calls, safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *Counter) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
}

// Get returns the count of k.
func (c *Counter) Get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}
