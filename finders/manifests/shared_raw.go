package manifests

import (
	"context"

	"github.com/imageconfig/imageconfig-operator/finders/cache"
)

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
