// Package refregistry runs the CNCF reference registry
// (github.com/distribution/distribution/v3) in-process on loopback for tests.
//
// Three set-ups are supported: an anonymous plain-HTTP registry, an htpasswd
// (basic auth) registry over TLS, and a registry protected by Docker-Hub-style
// bearer tokens from an in-process token issuer. The test CA, the token issuer
// and the request log are the kit's own (testpki.PKI, testregistry.TokenIssuer,
// RequestLog): every request the code under test makes to the registry and to
// the token issuer is recorded in one log.
//
// The first call to Start silences the standard logrus logger, which the
// registry logs through.
package refregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// Access controllers and storage driver, registered by init.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Mode selects how the test registry authenticates clients.
type Mode int

const (
	// PlainHTTP is an anonymous registry served over plain HTTP.
	PlainHTTP Mode = iota
	// HtpasswdTLS is a registry requiring HTTP basic auth checked against an
	// htpasswd file, always served over TLS with the test CA.
	HtpasswdTLS
	// TokenAuth is a registry requiring Docker-Hub-style bearer tokens from
	// an in-process token issuer on another loopback port.
	TokenAuth
)

// String returns the name of the mode.
func (m Mode) String() string {
	switch m {
	case PlainHTTP:
		return "PlainHTTP"
	case HtpasswdTLS:
		return "HtpasswdTLS"
	case TokenAuth:
		return "TokenAuth"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// AdminUser and AdminPassword are the credentials always accepted by the
// htpasswd file and the token issuer; the admin may push and pull anywhere.
const AdminUser = "admin"

// AdminPassword is AdminUser's password.
const AdminPassword = "admin-secret-pw"

// tokenService is the token service name (the "service" challenge parameter and
// the token audience) in TokenAuth mode.
const tokenService = "refregistry.test"

// tokenIssuerName is the "iss" claim of issued tokens.
const tokenIssuerName = "refregistry-token-issuer"

// Options configures Start.
type Options struct {
	// Mode selects the authentication set-up.
	Mode Mode
	// TLS serves the TokenAuth registry (and its token issuer) over TLS with
	// the test CA; HtpasswdTLS is always TLS; PlainHTTP never.
	TLS bool
	// Users are username -> password pairs accepted by htpasswd and by the
	// token issuer. The admin user (AdminUser/AdminPassword) is always added.
	Users map[string]string
	// RequireClientCert makes the TLS registry require client certificates
	// signed by the test CA (mTLS); see Registry.ClientCertPEM. The token
	// issuer does not require them.
	RequireClientCert bool
}

// Registry is a running in-process reference registry. It is stopped by the
// cleanup registered in Start.
type Registry struct {
	mode    Mode
	tls     bool
	mtls    bool
	host    string
	pki     *testpki.PKI
	log     *RequestLog
	app     http.Handler // the distribution App, without logging or redirects
	issuer  *testregistry.TokenIssuer
	realm   string
	users   map[string]string
	marker  string // value of internalHeader on the package's own requests
	mu      sync.Mutex
	target  string            // blob redirect target, "" when off
	blobRep map[string]string // digest -> repository, for the CDN

	adminOnce sync.Once
	admin     *http.Transport // one for all pushes, so thousands of pushes reuse their connections
}

// internalHeader marks requests made by this package itself (Push, PushImage,
// the CDN), which are not recorded in the RequestLog.
const internalHeader = "X-Refregistry-Internal"

var silenceOnce sync.Once

// silenceLogs sends the registry's logrus output to io.Discard.
func silenceLogs() {
	silenceOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.PanicLevel)
	})
}

// discardLogger is the http.Server error log (TLS handshake failures etc.).
var discardLogger = log.New(io.Discard, "", 0)

// Start runs a reference registry configured by opts on 127.0.0.1 and
// registers its shutdown with t.Cleanup. It calls t.Fatal on bad options.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	silenceLogs()

	useTLS := false
	switch opts.Mode {
	case PlainHTTP:
		if opts.TLS || opts.RequireClientCert {
			t.Fatalf("refregistry: PlainHTTP cannot use TLS or client certificates")
		}
	case HtpasswdTLS:
		useTLS = true
	case TokenAuth:
		useTLS = opts.TLS
		if opts.RequireClientCert && !opts.TLS {
			t.Fatalf("refregistry: RequireClientCert needs TLS")
		}
	default:
		t.Fatalf("refregistry: unknown mode %v", opts.Mode)
	}

	r := &Registry{
		mode:    opts.Mode,
		tls:     useTLS,
		mtls:    opts.RequireClientCert,
		log:     &RequestLog{},
		users:   map[string]string{},
		marker:  randomHex(t, 16),
		blobRep: map[string]string{},
	}
	for u, p := range opts.Users {
		r.users[u] = p
	}
	r.users[AdminUser] = AdminPassword
	if useTLS {
		r.pki = testpki.New(t)
	}

	dir := t.TempDir()
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"delete":   configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	cfg.HTTP.Secret = randomHex(t, 32)
	cfg.HTTP.Headers = http.Header{"X-Content-Type-Options": []string{"nosniff"}}

	switch opts.Mode {
	case HtpasswdTLS:
		path := filepath.Join(dir, "htpasswd")
		writeHtpasswd(t, path, r.users)
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{
			"realm": "refregistry",
			"path":  path,
		}}
	case TokenAuth:
		bundle := r.startIssuer(t, dir)
		cfg.Auth = configuration.Auth{"token": configuration.Parameters{
			"realm":          r.realm,
			"service":        tokenService,
			"issuer":         tokenIssuerName,
			"rootcertbundle": bundle,
		}}
	}

	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	r.app = app

	srv := httptest.NewUnstartedServer(record(r.log, r.marker, http.HandlerFunc(r.serveRegistry)))
	srv.Config.ErrorLog = discardLogger
	if useTLS {
		srv.TLS = r.pki.ServerConfig(opts.RequireClientCert)
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		cancel()
	})
	r.host = srv.Listener.Addr().String()
	return r
}

// Host returns the registry's "127.0.0.1:PORT".
func (r *Registry) Host() string { return r.host }

// CAPEM returns the PEM of the test CA that signed the server certificate
// (valid for 127.0.0.1, ::1 and localhost) in TLS modes, nil otherwise.
func (r *Registry) CAPEM() []byte {
	if r.pki == nil {
		return nil
	}
	return append([]byte(nil), r.pki.CAPEM...)
}

// ClientCertPEM returns a client certificate and its private key (PEM),
// signed by the test CA, for mTLS tests. Both are nil without TLS.
func (r *Registry) ClientCertPEM() (cert, key []byte) {
	if r.pki == nil {
		return nil, nil
	}
	return append([]byte(nil), r.pki.ClientCertPEM...), append([]byte(nil), r.pki.ClientKeyPEM...)
}

// Log returns the log of every request to the registry and to the token
// issuer, except those made by this package itself (Push, PushImage, CDN).
func (r *Registry) Log() *RequestLog { return r.log }

// TokenRealm returns the token issuer URL
// ("http(s)://localhost:PORT/token") in TokenAuth mode, "" otherwise.
func (r *Registry) TokenRealm() string { return r.realm }

// Tokens returns every token the issuer handed out over HTTP, oldest first.
func (r *Registry) Tokens() []string {
	if r.issuer == nil {
		return nil
	}
	return r.issuer.Tokens()
}

// Push writes idx to repo:tag with admin credentials.
func (r *Registry) Push(t testing.TB, repo, tag string, idx v1.ImageIndex) {
	t.Helper()
	if err := remote.WriteIndex(r.ref(t, repo, tag), idx, r.adminOptions()...); err != nil {
		t.Fatalf("refregistry: push index %s:%s: %v", repo, tag, err)
	}
}

// PushImage writes img to repo:tag with admin credentials.
func (r *Registry) PushImage(t testing.TB, repo, tag string, img v1.Image) {
	t.Helper()
	if err := remote.Write(r.ref(t, repo, tag), img, r.adminOptions()...); err != nil {
		t.Fatalf("refregistry: push image %s:%s: %v", repo, tag, err)
	}
}

// SetRedirectBlobs makes GET /v2/<name>/blobs/<digest> answer, once the
// registry has authorised it, 307 to target + "/blobs/<digest>" (see
// StartCDN). An empty target turns redirects off.
func (r *Registry) SetRedirectBlobs(target string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = strings.TrimSuffix(target, "/")
}

func (r *Registry) ref(t testing.TB, repo, tag string) name.Reference {
	t.Helper()
	var opts []name.Option
	if !r.tls {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(r.host+"/"+repo+":"+tag, opts...)
	if err != nil {
		t.Fatalf("refregistry: reference: %v", err)
	}
	return ref
}

func (r *Registry) adminOptions() []remote.Option {
	opts := []remote.Option{
		remote.WithContext(context.Background()),
		remote.WithTransport(&markTransport{marker: r.marker, inner: r.adminTransport()}),
	}
	if r.mode != PlainHTTP {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: AdminUser, Password: AdminPassword}))
	}
	return opts
}

// adminTransport trusts the test CA and presents the client certificate. It is
// made once: a transport per push would leave its idle connections open, and a
// fleet of 10,000 pushes would run out of file descriptors.
func (r *Registry) adminTransport() *http.Transport {
	r.adminOnce.Do(func() { r.admin = r.newAdminTransport() })
	return r.admin
}

func (r *Registry) newAdminTransport() *http.Transport {
	if r.pki != nil {
		return r.pki.Transport(true)
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}

// markTransport tags the package's own requests so they are not logged.
type markTransport struct {
	marker string
	inner  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (m *markTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(internalHeader, m.marker)
	return m.inner.RoundTrip(req)
}

var blobPath = regexp.MustCompile(`^/v2/(.+)/blobs/([A-Za-z0-9_+.-]+:[A-Za-z0-9=_-]+)$`)

// serveRegistry is the registry handler with the optional blob redirect.
func (r *Registry) serveRegistry(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	target := r.target
	r.mu.Unlock()
	if target == "" || req.Method != http.MethodGet {
		r.app.ServeHTTP(w, req)
		return
	}
	m := blobPath.FindStringSubmatch(req.URL.Path)
	if m == nil {
		r.app.ServeHTTP(w, req)
		return
	}
	r.mu.Lock()
	r.blobRep[m[2]] = m[1]
	r.mu.Unlock()
	// Let the registry authorise and look up the blob; turn its 200 into a
	// redirect and drop the body.
	rw := &redirectWriter{w: w, h: http.Header{}, location: target + "/blobs/" + m[2]}
	r.app.ServeHTTP(rw, req)
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
}

type redirectWriter struct {
	w           http.ResponseWriter
	h           http.Header
	location    string
	wroteHeader bool
	redirected  bool
}

func (rw *redirectWriter) Header() http.Header { return rw.h }

func (rw *redirectWriter) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	rw.wroteHeader = true
	if code == http.StatusOK || code == http.StatusPartialContent {
		rw.redirected = true
		h := rw.w.Header()
		h.Set("Location", rw.location)
		if d := rw.h.Get("Docker-Content-Digest"); d != "" {
			h.Set("Docker-Content-Digest", d)
		}
		h.Set("Content-Length", "0")
		rw.w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	for k, v := range rw.h {
		rw.w.Header()[k] = v
	}
	rw.w.WriteHeader(code)
}

func (rw *redirectWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.redirected {
		return len(b), nil
	}
	return rw.w.Write(b)
}

func writeHtpasswd(t testing.TB, path string, users map[string]string) {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("refregistry: bcrypt: %v", err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("refregistry: write htpasswd: %v", err)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("refregistry: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// startIssuer runs the kit's token issuer for r on another loopback port (TLS
// when r.tls), sets r.realm and writes the signing certificate to dir for the
// registry's rootcertbundle, whose path it returns.
func (r *Registry) startIssuer(t testing.TB, dir string) string {
	t.Helper()
	r.issuer = testregistry.NewTokenIssuer(t, testregistry.IssuerOptions{
		Service: tokenService,
		Issuer:  tokenIssuerName,
		Users:   r.users,
		Grant:   grant,
	})
	bundle := filepath.Join(dir, "token-root.pem")
	if err := os.WriteFile(bundle, r.issuer.BundlePEM(), 0o600); err != nil {
		t.Fatalf("refregistry: write token root bundle: %v", err)
	}
	srv := httptest.NewUnstartedServer(record(r.log, r.marker, r.issuer))
	srv.Config.ErrorLog = discardLogger
	scheme := "http"
	if r.tls {
		srv.TLS = r.pki.ServerConfig(false)
		srv.StartTLS()
		scheme = "https"
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	// The realm is on a DNS name: go-containerregistry refuses a realm on a
	// private IP literal other than the registry's own host:port.
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
	r.realm = scheme + "://localhost:" + port + "/token"
	return bundle
}

// grant gives the admin every action, anyone pull of public/*, and a known
// user pull of private/*.
func grant(user, typ, resource string, actions []string) []string {
	var granted []string
	for _, a := range actions {
		switch {
		case user == AdminUser:
			granted = append(granted, a)
		case typ == "repository" && a == "pull" && strings.HasPrefix(resource, "public/"):
			granted = append(granted, a)
		case typ == "repository" && a == "pull" && user != "" && strings.HasPrefix(resource, "private/"):
			granted = append(granted, a)
		}
	}
	return granted
}
