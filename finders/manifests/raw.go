package manifests

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/cache"
)

// RawContent is the content of a resolution exactly as the registry serves it.
type RawContent struct {
	// Index is the image index; nil for a single-platform image.
	Index []byte
	// Manifest is the platform manifest.
	Manifest []byte
	// Config is the config blob.
	Config []byte
}

// RawOf returns the raw content a fresh resolution carries, or nil when res was
// confirmed by a HEAD request and carries none.
func RawOf(res *Result) *RawContent {
	if res == nil || res.RawManifest == nil || res.RawConfig == nil {
		return nil
	}
	return &RawContent{Index: res.RawIndex, Manifest: res.RawManifest, Config: res.RawConfig}
}

// FetchRaw fetches the content s resolved, by digest: the index (when s has
// platforms), the platform manifest and the config blob, each verified against its
// digest. o gives the registry, repository and credentials; its tag is ignored.
// It serves a caller that holds a summary from an earlier resolution and needs
// the bytes again, such as the export after an unchanged re-check.
//
// Errors are *Error.
func FetchRaw(ctx context.Context, o Options, s *Summary) (*RawContent, error) {
	if s == nil || s.ManifestDigest == "" || s.ConfigDigest == "" {
		return nil, newError(InvalidReference, nil, "nothing resolved to fetch: the manifest and config digests are empty")
	}
	r, ctx, cancel, err := start(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()

	var out RawContent
	fetch := func(digest string) (*fetched, error) {
		h, err := v1.NewHash(digest)
		if err != nil {
			return nil, newError(InvalidReference, err, "digest %q: %v", digest, err)
		}
		return r.fetchManifest(ctx, digest, &h, -1)
	}
	if len(s.Platforms) > 0 && s.Digest != s.ManifestDigest {
		idx, err := fetch(s.Digest)
		if err != nil {
			return nil, err
		}
		if idx.Index == nil {
			return nil, newError(InvalidManifest, nil, "%s of %s is no longer an index", s.Digest, r.ref.describe())
		}
		out.Index = idx.raw
	}
	m, err := fetch(s.ManifestDigest)
	if err != nil {
		return nil, err
	}
	if m.Manifest == nil {
		return nil, newError(InvalidManifest, nil, "%s of %s is not an image manifest", s.ManifestDigest, r.ref.describe())
	}
	if got := m.Manifest.Config.Digest.String(); got != s.ConfigDigest {
		return nil, newError(DigestMismatch, nil, "manifest %s names config %s, not %s", s.ManifestDigest, got, s.ConfigDigest)
	}
	out.Manifest = m.raw
	if out.Config, err = r.fetchConfig(ctx, m.Manifest.Config); err != nil {
		return nil, err
	}
	return &out, nil
}

// FetchRaw returns the content sum resolved, as the package's FetchRaw does, but
// from the content cache when the cache holds all of it: an export that needs the
// bytes again after an unchanged re-check then costs no request. What the cache
// lacks is fetched by digest with o's credentials, through the shared sessions.
//
// The cache is keyed by registry, repository and digest, not by credentials, so
// call it only for a summary that o's own credentials have just resolved or
// confirmed, as the reconciler does right after a successful resolution.
func (s *Shared) FetchRaw(ctx context.Context, o Options, sum *Summary) (*RawContent, error) {
	if sum != nil && sum.ManifestDigest != "" && sum.ConfigDigest != "" {
		if ref, err := parseReference(o); err == nil {
			if raw := s.cachedRaw(o, ref, sum); raw != nil {
				return raw, nil
			}
		}
	}
	if o.Cache.Sessions == nil {
		o.Cache.Sessions = s.sessions
	}
	return FetchRaw(ctx, o, sum)
}

// cachedRaw returns the index, manifest and config of sum from the content cache,
// or nil when any of them is missing.
func (s *Shared) cachedRaw(o Options, ref reference, sum *Summary) *RawContent {
	get := func(digest string) []byte {
		_, b, ok := s.content.Lookup(cache.Key(ref.host, ref.repo.RepositoryStr(), digest))
		o.observer().CacheLookup("content", ok)
		if !ok {
			return nil
		}
		return b
	}
	var out RawContent
	if len(sum.Platforms) > 0 && sum.Digest != sum.ManifestDigest {
		if out.Index = get(sum.Digest); out.Index == nil {
			return nil
		}
	}
	if out.Manifest = get(sum.ManifestDigest); out.Manifest == nil {
		return nil
	}
	if out.Config = get(sum.ConfigDigest); out.Config == nil {
		return nil
	}
	return &out
}
