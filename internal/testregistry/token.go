package testregistry

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

// TokenTTL is the lifetime of issued tokens ("expires_in").
const TokenTTL = 300 * time.Second

// Access is one entry of a token's access claim, as distribution reads it.
type Access struct {
	// Type is the resource type, such as "repository".
	Type string `json:"type"`
	// Name is the resource name, such as "library/nginx".
	Name string `json:"name"`
	// Actions are the granted actions, such as "pull".
	Actions []string `json:"actions"`
}

// IssuerOptions configure a TokenIssuer.
type IssuerOptions struct {
	// Service is the token audience and the realm of its Basic challenge.
	Service string
	// Issuer is the "iss" claim.
	Issuer string
	// Users are the username -> password pairs it accepts. When empty, any
	// credentials (or none) get a token, until RequireUser.
	Users map[string]string
	// Grant returns the actions of a requested scope that user ("" when
	// anonymous) may have. Nil grants every action asked for.
	Grant func(user, typ, name string, actions []string) []string
}

// TokenIssuer is the test kit's one Docker-Hub-style token server. It answers
// GET /token (HTTP basic credentials, or none) and the OAuth2 password-grant
// POST with a signed JWT whose access claim lists the granted scopes, and it
// remembers every token it handed out. The in-process Registry serves it on
// its own host (Options.TokenAuth); the reference registry runs it on another
// loopback port and verifies its tokens with BundlePEM.
type TokenIssuer struct {
	opts      IssuerOptions
	signer    jose.Signer
	bundlePEM []byte

	mu       sync.Mutex
	users    map[string]string
	required bool
	tokens   []string
	valid    map[string]bool
}

// NewTokenIssuer returns an issuer that signs with the key of a fresh test CA
// (testpki) and sends the CA's certificate as the tokens' x5c chain.
func NewTokenIssuer(t testing.TB, o IssuerOptions) *TokenIssuer {
	t.Helper()
	ca := testpki.New(t)
	// distribution's verifier takes the key from the x5c chain, which must
	// lead to a certificate in its rootcertbundle.
	opts := (&jose.SignerOptions{}).
		WithType("JWT").
		WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(ca.CA.Raw)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ca.CAKey}, opts)
	if err != nil {
		t.Fatalf("testregistry: token signer: %v", err)
	}
	is := &TokenIssuer{opts: o, signer: signer, bundlePEM: ca.CAPEM, users: map[string]string{}, valid: map[string]bool{}}
	for u, p := range o.Users {
		is.users[u] = p
	}
	return is
}

// BundlePEM is the signing certificate, for a registry's rootcertbundle.
func (is *TokenIssuer) BundlePEM() []byte { return slices.Clone(is.bundlePEM) }

// RequireUser makes the issuer hand tokens only to requests with exactly
// these credentials; other requests get 401. Tokens issued earlier stay valid.
func (is *TokenIssuer) RequireUser(user, pass string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.users = map[string]string{user: pass}
	is.required = true
}

// Tokens returns every token the issuer handed out over HTTP, oldest first.
func (is *TokenIssuer) Tokens() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return slices.Clone(is.tokens)
}

// Valid reports whether tok was handed out by the issuer over HTTP.
func (is *TokenIssuer) Valid(tok string) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.valid[tok]
}

// ServeHTTP implements GET and POST /token?service=...&scope=..., like
// auth.docker.io. Other paths get 404.
func (is *TokenIssuer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != TokenPath {
		http.NotFound(w, req)
		return
	}
	user, pass, hasCreds := req.BasicAuth()
	switch req.Method {
	case http.MethodGet:
	case http.MethodPost:
		if err := req.ParseForm(); err != nil {
			WriteError(w, http.StatusBadRequest, "UNSUPPORTED", "bad form")
			return
		}
		if !hasCreds && req.PostForm.Get("grant_type") == "password" {
			user, pass, hasCreds = req.PostForm.Get("username"), req.PostForm.Get("password"), true
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		WriteError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
		return
	}
	if !hasCreds && req.Header.Get("Authorization") != "" {
		is.refuse(w, "unsupported authorization")
		return
	}

	is.mu.Lock()
	want, known := is.users[user]
	checked, required := len(is.users) > 0, is.required
	is.mu.Unlock()
	switch {
	case required && !hasCreds, hasCreds && checked && (!known || want != pass):
		is.refuse(w, "incorrect username or password")
		return
	}
	if !checked {
		user = "" // any credentials pass, and none are known
	}

	var scopes []string
	for _, s := range req.URL.Query()["scope"] {
		scopes = append(scopes, strings.Fields(s)...)
	}
	if req.Method == http.MethodPost {
		scopes = append(scopes, strings.Fields(req.PostForm.Get("scope"))...)
	}
	var access []Access
	for _, scope := range scopes {
		if a, ok := is.grant(user, scope); ok {
			access = append(access, a)
		}
	}
	tok, err := is.Mint(user, access)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	is.mu.Lock()
	is.tokens = append(is.tokens, tok)
	is.valid[tok] = true
	is.mu.Unlock()

	body, _ := json.Marshal(map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(TokenTTL / time.Second),
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (is *TokenIssuer) refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s"`, is.opts.Service))
	WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED", msg)
}

// grant reads scope ("repository:<name>:<actions>") and returns what user may have of it.
func (is *TokenIssuer) grant(user, scope string) (Access, bool) {
	typ, rest, ok := strings.Cut(scope, ":")
	if !ok {
		return Access{}, false
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return Access{}, false
	}
	name, actions := rest[:i], strings.Split(rest[i+1:], ",")
	if is.opts.Grant != nil {
		actions = is.opts.Grant(user, typ, name, actions)
	}
	if len(actions) == 0 {
		return Access{}, false
	}
	return Access{Type: typ, Name: name, Actions: actions}, true
}

// claims are the JWT claims distribution's token verifier reads.
type claims struct {
	Issuer     string   `json:"iss"`
	Subject    string   `json:"sub"`
	Audience   []string `json:"aud"`
	Expiration int64    `json:"exp"`
	NotBefore  int64    `json:"nbf"`
	IssuedAt   int64    `json:"iat"`
	JWTID      string   `json:"jti"`
	Access     []Access `json:"access"`
}

// Mint signs a token for subject with the given access list, without
// recording it (the reference registry's CDN reads blobs with one).
func (is *TokenIssuer) Mint(subject string, access []Access) (string, error) {
	if access == nil {
		access = []Access{}
	}
	now := time.Now()
	c := claims{
		Issuer:     is.opts.Issuer,
		Subject:    subject,
		Audience:   []string{is.opts.Service},
		Expiration: now.Add(TokenTTL).Unix(),
		NotBefore:  now.Add(-time.Second).Unix(),
		IssuedAt:   now.Unix(),
		JWTID:      randomID(),
		Access:     access,
	}
	return jwt.Signed(is.signer).Claims(c).Serialize()
}

// randomID returns 16 random bytes in hex.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
