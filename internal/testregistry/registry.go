// Package testregistry provides an in-process OCI registry for tests.
//
// It wraps go-containerregistry's in-memory registry handler
// (github.com/google/go-containerregistry/pkg/registry) behind an
// httptest server on 127.0.0.1 and adds:
//
//   - an optional Docker-Hub-style bearer token challenge with the kit's token
//     issuer (TokenIssuer) on the registry's own host:port (Options.TokenAuth),
//     optionally requiring HTTP basic credentials to obtain a token (RequireBasic);
//   - HTTPS with the kit's test CA (Options.TLS, PKI; package testpki);
//   - a concurrency-safe request log (Log) for request-economy assertions;
//   - fault injection (SetFault, FailRequests);
//   - fixture pushes that bypass auth, faults and the log (PushImage,
//     PushIndex, PushRaw, PushBlob), and deterministic fixture builders
//     (Image, Index, MultiArch; see fixtures.go).
//
// Blobs are stored in one pool shared by all repositories.
//
// The kit's other parts share its request log, token issuer and PKI: the
// reference registry (distribution) in testregistry/refregistry and the
// fault-injecting proxy in testregistry/faultproxy. The supply-chain fixtures
// (supplychain.go) wrap internal/artifacts, which the demo registry uses too.
package testregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

// Service is the service name the registry announces in its bearer
// challenge and expects (but does not enforce) at its token endpoint.
const Service = "testregistry"

// TokenPath is the path of the token endpoint on the registry's host.
const TokenPath = "/token"

// Options configure a Registry.
type Options struct {
	// TokenAuth enables a Docker-Hub-style bearer challenge: every /v2/
	// request without a token issued by the registry's own token endpoint
	// gets 401 with a WWW-Authenticate: Bearer header whose realm is
	// URL()+"/token".
	TokenAuth bool
	// TLS serves HTTPS with a server certificate of the kit's test CA (see
	// PKI) instead of plain HTTP.
	TLS bool
	// NoReferrersAPI answers the OCI 1.1 referrers API with 404, as registries without it do (see referrers.go).
	NoReferrersAPI bool
}

// Registry is an in-process OCI registry served on 127.0.0.1. Create it with
// New; it is closed automatically when the test ends.
type Registry struct {
	opts      Options
	srv       *httptest.Server
	inner     http.Handler
	blobs     registry.BlobPutHandler
	log       *RequestLog
	transport *http.Transport
	issuer    *TokenIssuer
	pki       *testpki.PKI

	mu        sync.Mutex
	fault     Fault
	overrides map[string]rawManifest // key: repo + "|" + ref
}

type rawManifest struct {
	mediaType string
	body      []byte
	digest    v1.Hash
}

// New starts a registry on 127.0.0.1 and registers a t.Cleanup that closes
// it.
func New(t testing.TB, opts Options) *Registry {
	t.Helper()
	bh := registry.NewInMemoryBlobHandler()
	bp, ok := bh.(registry.BlobPutHandler)
	if !ok {
		t.Fatalf("testregistry: in-memory blob handler does not support Put")
	}
	r := &Registry{
		opts: opts,
		inner: registry.New(
			registry.Logger(log.New(io.Discard, "", 0)),
			registry.WithBlobHandler(bh),
			registry.WithReferrersSupport(true),
		),
		blobs:     bp,
		log:       &RequestLog{},
		issuer:    NewTokenIssuer(t, IssuerOptions{Service: Service, Issuer: Service}),
		overrides: map[string]rawManifest{},
	}
	r.srv = httptest.NewUnstartedServer(r)
	if opts.TLS {
		r.pki = testpki.New(t)
		r.srv.TLS = r.pki.ServerConfig(false)
		r.srv.StartTLS()
		r.transport = r.pki.Transport(false)
	} else {
		r.srv.Start()
		r.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	t.Cleanup(func() {
		r.transport.CloseIdleConnections()
		r.srv.Close()
	})
	return r
}

// Host returns the registry's "127.0.0.1:PORT".
func (r *Registry) Host() string { return r.srv.Listener.Addr().String() }

// URL returns "http://127.0.0.1:PORT", or "https://..." in TLS mode.
func (r *Registry) URL() string { return r.srv.URL }

// Client returns a client for the server; in TLS mode it trusts the test CA.
func (r *Registry) Client() *http.Client { return &http.Client{Transport: r.transport} }

// PKI returns the test CA and certificates the registry serves HTTPS with, or
// nil without Options.TLS.
func (r *Registry) PKI() *testpki.PKI { return r.pki }

// Transport returns a base transport for the registry: a clone of
// http.DefaultTransport that, in TLS mode, trusts the test CA.
// The same transport is returned on every call; its idle connections are
// closed when the test ends.
func (r *Registry) Transport() http.RoundTripper { return r.transport }

// Log returns the registry's request log.
func (r *Registry) Log() *RequestLog { return r.log }

// Issuer returns the registry's token issuer.
func (r *Registry) Issuer() *TokenIssuer { return r.issuer }

// SetFault replaces the fault injector; nil clears it. It is safe for
// concurrent use.
func (r *Registry) SetFault(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
}

// RequireBasic makes the token endpoint issue tokens only to requests that
// carry these HTTP basic credentials (as the Authorization header, or as the
// username/password form fields of an OAuth2 password-grant POST); other
// token requests get 401. Tokens issued earlier stay valid. It only has an
// effect with Options.TokenAuth, since otherwise nothing needs a token.
func (r *Registry) RequireBasic(user, pass string) { r.issuer.RequireUser(user, pass) }

// ServeHTTP implements http.Handler. Requests outside /v2/ and /token get 404
// and are not logged.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	isToken := p == TokenPath
	isV2 := p == "/v2" || strings.HasPrefix(p, "/v2/")
	if !isToken && !isV2 {
		http.NotFound(w, req)
		return
	}
	r.log.Add(Request{
		Method:  req.Method,
		Path:    p,
		Query:   req.URL.RawQuery,
		HasAuth: req.Header.Get("Authorization") != "",
	})

	r.mu.Lock()
	fault := r.fault
	r.mu.Unlock()
	if fault != nil && fault(w, req) {
		return
	}

	if isToken {
		r.issuer.ServeHTTP(w, req)
		return
	}
	if r.opts.TokenAuth && !r.validBearer(req) {
		r.challenge(w, req)
		return
	}
	if r.refuseReferrers(w, req) || r.serveOverride(w, req) {
		return
	}
	r.inner.ServeHTTP(w, req)
}

func (r *Registry) validBearer(req *http.Request) bool {
	h := req.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return r.issuer.Valid(strings.TrimSpace(h[len(prefix):]))
}

// Challenge returns the WWW-Authenticate value the registry sends for an
// unauthenticated request to path (a /v2/ path) with method.
func (r *Registry) Challenge(method, path string) string {
	c := fmt.Sprintf(`Bearer realm="%s%s",service="%s"`, r.URL(), TokenPath, Service)
	if repo, ok := RepoFromPath(path); ok {
		action := "pull"
		switch method {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			action = "pull,push"
		}
		c += fmt.Sprintf(`,scope="repository:%s:%s"`, repo, action)
	} else if strings.HasSuffix(strings.TrimSuffix(path, "/"), "/_catalog") {
		c += `,scope="registry:catalog:*"`
	}
	return c
}

func (r *Registry) challenge(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("WWW-Authenticate", r.Challenge(req.Method, req.URL.Path))
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// serveOverride answers GET/HEAD for manifests stored by PushRaw that the
// underlying registry refused.
func (r *Registry) serveOverride(w http.ResponseWriter, req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	repo, kind, ref, ok := parsePath(req.URL.Path)
	if !ok || kind != "manifests" {
		return false
	}
	r.mu.Lock()
	m, found := r.overrides[repo+"|"+ref]
	r.mu.Unlock()
	if !found {
		return false
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Docker-Content-Digest", m.digest.String())
	w.Header().Set("Content-Length", fmt.Sprint(len(m.body)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = w.Write(m.body)
	}
	return true
}

// WriteError writes a registry-style JSON error body
// ({"errors":[{"code":...,"message":...}]}) with the given status. Headers
// must be set before calling it. It is handy inside a Fault.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// RepoFromPath returns the repository name of a /v2/<name>/manifests/<ref>,
// /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/..., /v2/<name>/tags/list
// or /v2/<name>/referrers/<digest> path. The name may contain slashes.
func RepoFromPath(p string) (string, bool) {
	if repo, _, _, ok := parsePath(p); ok {
		return repo, true
	}
	// Blob uploads: /v2/<name>/blobs/uploads/ and /v2/<name>/blobs/uploads/<id>.
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", false
	}
	if i := strings.LastIndex(rest, "/blobs/uploads"); i > 0 {
		tail := rest[i+len("/blobs/uploads"):]
		if tail == "" || tail == "/" || !strings.Contains(tail[1:], "/") {
			return rest[:i], true
		}
	}
	return "", false
}

// parsePath splits /v2/<name>/<kind>/<ref> where kind is manifests, blobs,
// tags (ref "list") or referrers.
func parsePath(p string) (repo, kind, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", "", false
	}
	elems := strings.Split(rest, "/")
	if len(elems) < 3 {
		return "", "", "", false
	}
	kind, ref = elems[len(elems)-2], elems[len(elems)-1]
	repo = strings.Join(elems[:len(elems)-2], "/")
	if repo == "" || ref == "" {
		return "", "", "", false
	}
	switch kind {
	case "manifests", "blobs", "referrers":
		if kind == "blobs" && ref == "uploads" {
			return "", "", "", false
		}
		return repo, kind, ref, true
	case "tags":
		if ref == "list" {
			return repo, kind, ref, true
		}
	}
	return "", "", "", false
}

// PushImage stores img's blobs and manifest in repo, under tag (if not
// empty) and under its digest, and returns the manifest digest. It bypasses
// auth, faults and the request log.
func (r *Registry) PushImage(t testing.TB, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	h, err := r.pushImage(repo, tag, img)
	if err != nil {
		t.Fatalf("testregistry: PushImage %s:%s: %v", repo, tag, err)
	}
	return h
}

// PushIndex stores idx and, recursively, every image and index it references
// (by digest) in repo, then the index itself under tag (if not empty) and its
// digest, and returns the index digest. It bypasses auth, faults and the
// request log.
func (r *Registry) PushIndex(t testing.TB, repo, tag string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	h, err := r.pushIndex(repo, tag, idx)
	if err != nil {
		t.Fatalf("testregistry: PushIndex %s:%s: %v", repo, tag, err)
	}
	return h
}

// PushRaw stores body as a manifest with Content-Type mediaType in repo under
// ref (a tag or a digest) and returns the sha256 of body. If the underlying
// registry refuses the bytes (for example an index that does not parse or
// references manifests it lacks), they are served from an override table:
// GET and HEAD then return exactly body with that Content-Type and a
// Docker-Content-Digest of the body's sha256 (also reachable by that
// digest), but the tag does not appear in tags/list. Pushing a digest ref
// that does not match body stores the bytes under that digest anyway, which
// is how digest-mismatch tests are built. It bypasses auth, faults and the
// request log.
func (r *Registry) PushRaw(t testing.TB, repo, ref string, mediaType string, body []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("testregistry: PushRaw: %v", err)
	}
	r.clearOverride(repo, ref)
	if err := r.putManifest(repo, ref, types.MediaType(mediaType), body); err != nil {
		m := rawManifest{mediaType: mediaType, body: append([]byte(nil), body...), digest: h}
		r.mu.Lock()
		r.overrides[repo+"|"+ref] = m
		r.overrides[repo+"|"+h.String()] = m
		r.mu.Unlock()
	}
	return h
}

// PushBlob stores body as a blob and returns its digest. Blobs are shared by
// all repositories; repo is accepted for symmetry. It bypasses auth, faults
// and the request log.
func (r *Registry) PushBlob(t testing.TB, repo string, body []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("testregistry: PushBlob: %v", err)
	}
	if err := r.putBlob(repo, h, body); err != nil {
		t.Fatalf("testregistry: PushBlob: %v", err)
	}
	return h
}

func (r *Registry) clearOverride(repo, ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.overrides, repo+"|"+ref)
}

func (r *Registry) putBlob(repo string, h v1.Hash, body []byte) error {
	return r.blobs.Put(context.Background(), repo, h, io.NopCloser(bytes.NewReader(body)))
}

func (r *Registry) putManifest(repo, ref string, mt types.MediaType, body []byte) error {
	req := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	req.Header.Set("Content-Type", string(mt))
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		return fmt.Errorf("PUT manifest %s:%s: %d %s", repo, ref, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}

func (r *Registry) pushImage(repo, tag string, img v1.Image) (v1.Hash, error) {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("manifest: %w", err)
	}
	if err := r.putBlob(repo, m.Config.Digest, cfg); err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layers: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
		if err := r.putBlob(repo, d, b); err != nil {
			return v1.Hash{}, err
		}
	}
	return r.pushManifest(repo, tag, img)
}

type manifestLike interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}

func (r *Registry) pushManifest(repo, tag string, m manifestLike) (v1.Hash, error) {
	raw, err := m.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	mt, err := m.MediaType()
	if err != nil {
		return v1.Hash{}, err
	}
	h, err := m.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	r.clearOverride(repo, h.String())
	if err := r.putManifest(repo, h.String(), mt, raw); err != nil {
		return v1.Hash{}, err
	}
	if tag != "" {
		r.clearOverride(repo, tag)
		if err := r.putManifest(repo, tag, mt, raw); err != nil {
			return v1.Hash{}, err
		}
	}
	return h, nil
}

func (r *Registry) pushIndex(repo, tag string, idx v1.ImageIndex) (v1.Hash, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, desc := range im.Manifests {
		switch {
		case desc.MediaType.IsIndex():
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return v1.Hash{}, fmt.Errorf("child index %s: %w", desc.Digest, err)
			}
			if _, err := r.pushIndex(repo, "", child); err != nil {
				return v1.Hash{}, err
			}
		case desc.MediaType.IsImage():
			child, err := idx.Image(desc.Digest)
			if err != nil {
				return v1.Hash{}, fmt.Errorf("child image %s: %w", desc.Digest, err)
			}
			if _, err := r.pushImage(repo, "", child); err != nil {
				return v1.Hash{}, err
			}
		default:
			// Not a manifest (e.g. a blob descriptor): skip.
		}
	}
	return r.pushManifest(repo, tag, idx)
}
