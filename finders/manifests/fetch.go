package manifests

// The fetches of a resolution: every GET and HEAD of a manifest or config blob,
// each bounded in size before and while it is read, and verified against the
// digest and size that named it.

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/mediatype"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
)

// fetchTop GETs what the tag (or digest) points to.
func (r *resolver) fetchTop(ctx context.Context) (*fetched, error) {
	var expect *v1.Hash
	if r.ref.tag == "" {
		expect = &r.ref.digest
	}
	return r.fetchManifest(ctx, r.ref.identifier(), expect, -1)
}

// head asks for the tag's digest without downloading the manifest. Docker Hub does
// not count HEAD requests against its pull limit. ok is false when the registry
// does not support HEAD or sends no Docker-Content-Digest; the caller then GETs.
func (r *resolver) head(ctx context.Context) (digest, mediaType string, ok bool, err error) {
	req, err := r.newRequest(ctx, http.MethodHead, "manifests", r.ref.identifier())
	if err != nil {
		return "", "", false, err
	}
	// Without Accept, a registry may answer with the digest of a converted manifest.
	req.Header.Set("Accept", mediatype.Accept())
	resp, err := r.client.Do(req)
	if err != nil {
		return "", "", false, r.classify(err, r.what("manifest"))
	}
	defer drain(resp)
	r.noteResponse(resp)
	switch resp.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "", "", false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return "", "", false, r.classify(err, r.what("manifest"))
	}
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return "", "", false, nil
	}
	if r.ref.tag == "" && h != r.ref.digest {
		// A HEAD by digest is verified like a GET would be.
		return "", "", false, newError(DigestMismatch, nil, "registry %s answered HEAD %s with digest %s", r.ref.host, r.ref.describe(), h)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return h.String(), mt, true, nil
}

// fetched is a manifest or index fetched from the registry: what it is
// (mediatype.Document), and its digest, size and bytes.
type fetched struct {
	mediatype.Document
	digest v1.Hash
	size   int64
	// raw is the body exactly as the registry served it.
	raw []byte
}

// fetchManifest GETs a manifest by tag or digest. When expect is set, the body must
// hash to it. declared is the size an index entry declared, or -1.
func (r *resolver) fetchManifest(ctx context.Context, identifier string, expect *v1.Hash, declared int64) (*fetched, error) {
	what := fmt.Sprintf("manifest %q of %s", identifier, r.ref.repo.RepositoryStr())
	if declared > MaxManifestSize {
		return nil, newError(TooLarge, nil, "%s declares %d bytes, over the %d-byte limit for manifests", what, declared, MaxManifestSize)
	}
	resp, err := r.get(ctx, "manifests", identifier, what)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	body, err := readBounded(resp, MaxManifestSize)
	if err != nil {
		return nil, r.bodyError(err, what, "manifests", MaxManifestSize)
	}

	algo := "sha256"
	if expect != nil {
		algo = expect.Algorithm
	}
	got, err := digestOf(algo, body)
	if err != nil {
		return nil, newError(Unsupported, err, "unsupported: digest algorithm of %s: %v", what, err)
	}
	if expect != nil && got != *expect {
		return nil, newError(DigestMismatch, nil, "%s hashes to %s, not the requested %s", what, got, expect)
	}
	if declared >= 0 && int64(len(body)) != declared {
		return nil, newError(DigestMismatch, nil, "%s is %d bytes, but the index declares %d", what, len(body), declared)
	}

	f, err := parseManifest(body, resp.Header.Get("Content-Type"))
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Message = fmt.Sprintf("%s: %s", what, e.Message)
			return nil, e
		}
		return nil, err
	}
	f.digest = got
	f.size = int64(len(body))
	f.raw = body
	return f, nil
}

// fetchConfig GETs the config blob, after checking its declared size, and verifies
// its size and digest.
func (r *resolver) fetchConfig(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	what := fmt.Sprintf("config blob %s of %s", d.Digest, r.ref.repo.RepositoryStr())
	if d.Size > MaxConfigSize {
		return nil, newError(TooLarge, nil, "%s declares %d bytes, over the %d-byte limit for configs", what, d.Size, MaxConfigSize)
	}
	if d.Size < 0 {
		return nil, newError(InvalidManifest, nil, "%s declares a negative size %d", what, d.Size)
	}
	resp, err := r.get(ctx, "blobs", d.Digest.String(), what)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	body, err := readBounded(resp, MaxConfigSize)
	if err != nil {
		return nil, r.bodyError(err, what, "configs", MaxConfigSize)
	}
	if int64(len(body)) != d.Size {
		return nil, newError(DigestMismatch, nil, "%s is %d bytes, but the manifest declares %d", what, len(body), d.Size)
	}
	got, err := digestOf(d.Digest.Algorithm, body)
	if err != nil {
		return nil, newError(Unsupported, err, "unsupported: digest algorithm of %s: %v", what, err)
	}
	if got != d.Digest {
		return nil, newError(DigestMismatch, nil, "%s hashes to %s", what, got)
	}
	return body, nil
}

// get GETs a manifest or blob and returns the response of a 200, or the
// classified error. The caller drains the body.
func (r *resolver) get(ctx context.Context, kind, identifier, what string) (*http.Response, error) {
	req, err := r.newRequest(ctx, http.MethodGet, kind, identifier)
	if err != nil {
		return nil, err
	}
	if kind == "manifests" {
		req.Header.Set("Accept", mediatype.Accept())
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, r.classify(err, what)
	}
	r.noteResponse(resp)
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		drain(resp)
		return nil, r.classify(err, what)
	}
	return resp, nil
}

// config fetches and parses the config blob d.
func (r *resolver) config(ctx context.Context, d v1.Descriptor) (*v1.ConfigFile, error) {
	raw, err := r.fetchConfig(ctx, d)
	if err != nil {
		return nil, err
	}
	return r.parseConfigBlob(raw, d)
}

// parseConfigBlob parses the config blob d.
func (r *resolver) parseConfigBlob(raw []byte, d v1.Descriptor) (*v1.ConfigFile, error) {
	cfg, err := summary.ParseConfig(raw)
	if err != nil {
		return nil, newError(InvalidManifest, err, "config blob %s of %s is invalid: %v", d.Digest, r.ref.describe(), err)
	}
	return cfg, nil
}

func (r *resolver) newRequest(ctx context.Context, method, kind, identifier string) (*http.Request, error) {
	// The scheme transport of go-containerregistry switches to http when the
	// handshake found an insecure registry.
	u := fmt.Sprintf("https://%s/v2/%s/%s/%s", r.ref.host, r.ref.repo.RepositoryStr(), kind, identifier)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, newError(InvalidReference, err, "cannot build a request for %s: %v", r.ref.describe(), err)
	}
	return req, nil
}

func (r *resolver) what(kind string) string {
	return fmt.Sprintf("%s %q of %s", kind, r.ref.identifier(), r.ref.repo.RepositoryStr())
}

// errTooLarge is returned by readBounded when a body exceeds its bound.
var errTooLarge = errors.New("body too large")

// readBounded reads at most limit bytes of the body, refusing a larger declared
// Content-Length before reading anything.
func readBounded(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, errTooLarge
	}
	return body, nil
}

func (r *resolver) bodyError(err error, what, kind string, limit int64) error {
	if errors.Is(err, errTooLarge) {
		return newError(TooLarge, err, "%s is over the %d-byte limit for %s", what, limit, kind)
	}
	return r.classify(err, what)
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func digestOf(algo string, b []byte) (v1.Hash, error) {
	var h hash.Hash
	switch algo {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return v1.Hash{}, fmt.Errorf("unsupported hash %q", algo)
	}
	h.Write(b)
	return v1.Hash{Algorithm: algo, Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// parseManifest classifies and parses a manifest body (mediatype.Classify). A
// refusal becomes an *Error: Unsupported, or InvalidManifest.
func parseManifest(body []byte, contentType string) (*fetched, error) {
	d, err := mediatype.Classify(body, contentType)
	if err != nil {
		reason := InvalidManifest
		var me *mediatype.Error
		if errors.As(err, &me) && me.Unsupported {
			reason = Unsupported
		}
		return nil, newError(reason, err, "%v", err)
	}
	return &fetched{Document: *d}, nil
}
