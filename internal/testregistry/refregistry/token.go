package refregistry

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	regtoken "github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// tokenTTL is the lifetime of issued tokens ("expires_in").
const tokenTTL = 300 * time.Second

// tokenIssuer is a Docker-Hub-style token server.
type tokenIssuer struct {
	realm      string
	bundlePath string
	users      map[string]string
	signer     jose.Signer

	mu     sync.Mutex
	tokens []string
}

// startIssuer runs the token server for r (TLS when r.tls) and writes the
// signing certificate to dir for the registry's rootcertbundle.
func startIssuer(t testing.TB, r *Registry, dir string) *tokenIssuer {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	cert, certPEM := createCert(t, &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "refregistry token signer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, key, nil, nil)
	bundle := filepath.Join(dir, "token-root.pem")
	if err := os.WriteFile(bundle, certPEM, 0o600); err != nil {
		t.Fatalf("refregistry: write token root bundle: %v", err)
	}

	// distribution's verifier takes the key from the x5c chain, which must
	// lead to a certificate in rootcertbundle.
	opts := (&jose.SignerOptions{}).
		WithType("JWT").
		WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(cert.Raw)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatalf("refregistry: token signer: %v", err)
	}
	is := &tokenIssuer{bundlePath: bundle, users: r.users, signer: signer}

	srv := httptest.NewUnstartedServer(record(r.log, r.marker, http.HandlerFunc(is.serveToken)))
	srv.Config.ErrorLog = discardLogger
	scheme := "http"
	if r.tls {
		srv.TLS = r.pki.serverConfig(false)
		srv.StartTLS()
		scheme = "https"
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
	is.realm = scheme + "://localhost:" + port + "/token"
	return is
}

func (is *tokenIssuer) issued() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return slices.Clone(is.tokens)
}

// serveToken implements GET /token?service=...&scope=... with optional
// basic auth, like auth.docker.io.
func (is *tokenIssuer) serveToken(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/token" {
		http.NotFound(w, req)
		return
	}
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	user := ""
	if u, p, ok := req.BasicAuth(); ok {
		want, known := is.users[u]
		if !known || want != p {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"details": "incorrect username or password"})
			return
		}
		user = u
	} else if req.Header.Get("Authorization") != "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"details": "unsupported authorization"})
		return
	}

	var access []*regtoken.ResourceActions
	for _, s := range req.URL.Query()["scope"] {
		for _, scope := range strings.Fields(s) {
			if ra := grant(user, scope); ra != nil {
				access = append(access, ra)
			}
		}
	}

	tok, err := is.mint(user, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	is.mu.Lock()
	is.tokens = append(is.tokens, tok)
	is.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(tokenTTL / time.Second),
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
}

// grant returns the actions of scope ("repository:<name>:<actions>") that
// user ("" for anonymous) may have, or nil.
func grant(user, scope string) *regtoken.ResourceActions {
	typ, rest, ok := strings.Cut(scope, ":")
	if !ok {
		return nil
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return nil
	}
	name, actions := rest[:i], strings.Split(rest[i+1:], ",")
	var granted []string
	for _, a := range actions {
		switch {
		case user == AdminUser:
			granted = append(granted, a)
		case typ == "repository" && a == "pull" && strings.HasPrefix(name, "public/"):
			granted = append(granted, a)
		case typ == "repository" && a == "pull" && user != "" && strings.HasPrefix(name, "private/"):
			granted = append(granted, a)
		}
	}
	if len(granted) == 0 {
		return nil
	}
	return &regtoken.ResourceActions{Type: typ, Name: name, Actions: granted}
}

// mint signs a token for subject with the given access list.
func (is *tokenIssuer) mint(subject string, access []*regtoken.ResourceActions) (string, error) {
	if access == nil {
		access = []*regtoken.ResourceActions{}
	}
	now := time.Now()
	claims := regtoken.ClaimSet{
		Issuer:     tokenIssuerName,
		Subject:    subject,
		Audience:   regtoken.AudienceList{tokenService},
		Expiration: now.Add(tokenTTL).Unix(),
		NotBefore:  now.Add(-time.Second).Unix(),
		IssuedAt:   now.Unix(),
		JWTID:      randomID(),
		Access:     access,
	}
	return jwt.Signed(is.signer).Claims(claims).Serialize()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// randomID returns a random JWT ID.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
