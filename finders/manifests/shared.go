package manifests

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imageconfig/imageconfig-operator/finders/cache"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/flight"
)

// Shared resolves images for many callers, so that objects naming the same image
// share its registry work. It answers like Resolve, and adds three things:
//
//   - Coalescing: concurrent resolutions with one key make one request per step
//     (handshake, tag, manifest, config). The key is the registry, repository,
//     tag or digest, insecure flag, a SHA-256 of the credentials (never the
//     credentials themselves), the base transport and the user agent.
//   - A tag window: the registry's answer for a tag (its digest) is reused by
//     every resolution with the same key for Options.Cache.HeadWindow.
//     Resolutions that differ only in platform share it, and so share the index.
//   - Content: manifests, indexes and config blobs are kept in a Content cache
//     keyed by registry/repository@digest.
//
// Nothing crosses credentials: the window is per credential hash, and content is
// read only after the registry answered for the tag (a HEAD or GET of its own, or
// one within the window with the same credentials). A resolution without
// credentials for a private repository is refused by the registry, whatever the
// cache holds.
//
// It is safe for concurrent use.
type Shared struct {
	content  *cache.Content
	sessions *Sessions
	now      func() time.Time

	flights flight.Group

	mu   sync.Mutex
	tags map[string]tagEntry
}

// SharedOptions configure NewShared.
type SharedOptions struct {
	// Content caches manifests and config blobs; nil caches none.
	Content *cache.Content
	// Sessions keeps authenticated transports when Options.Cache.Sessions is nil; nil
	// means a new cache that keeps them for 30 minutes, at most 1000.
	Sessions *Sessions
	// Now is the clock of the tag window; nil means time.Now.
	Now func() time.Time
}

// maxTagEntries bounds the tag window's memory.
const maxTagEntries = 100_000

type tagEntry struct {
	digest v1.Hash
	at     time.Time
	// base is the transport the answer came through. The key names it by its
	// address, which the successor of a collected transport (built for another
	// client certificate, say) could reuse and so inherit this answer. Holding it
	// here keeps it alive, so no other transport can have its address while the
	// entry exists.
	base http.RoundTripper
}

// NewShared returns a Shared resolver.
func NewShared(o SharedOptions) *Shared {
	s := &Shared{content: o.Content, sessions: o.Sessions, now: o.Now, tags: map[string]tagEntry{}}
	if s.sessions == nil {
		s.sessions = NewSessions(30*time.Minute, 1000)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Content returns the content cache, for reading raw manifests and configs.
func (s *Shared) Content() *cache.Content { return s.content }

// Resolve resolves o as the package's Resolve does, sharing work with concurrent
// and recent resolutions of the same key.
func (s *Shared) Resolve(ctx context.Context, o Options) (*Result, error) {
	if o.Cache.Sessions == nil {
		o.Cache.Sessions = s.sessions
	}
	r, ctx, cancel, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	a, base, key, err := r.identity(ctx)
	if err != nil {
		return r.finish(nil, err)
	}
	if key == "" {
		// Credentials that cannot be hashed cannot be told apart: share nothing.
		if err := r.dial(ctx, a, base, key); err != nil {
			return r.finish(nil, err)
		}
		return r.finish(r.resolve(ctx))
	}
	c := &sharedCall{s: s, r: r, a: a, base: base, key: key}
	// The rate-limit headers are those of this caller's own requests; a caller
	// answered by another's flight or by the caches reports none.
	return r.finish(c.resolve(ctx))
}

// sharedCall is one caller's resolution through Shared.
type sharedCall struct {
	s    *Shared
	r    *resolver
	a    authn.Authenticator
	base http.RoundTripper
	key  string
}

// tagAnswer is what the registry said about the tag.
type tagAnswer struct {
	digest v1.Hash
	at     time.Time
	// top is what the tag points to when it was fetched with a GET; nil after a HEAD.
	top *fetched
}

func (c *sharedCall) resolve(ctx context.Context) (*Result, error) {
	r := c.r
	prev := r.reusable(r.opts.Previous)
	ans, err := c.tag(ctx, prev != nil)
	if err != nil {
		return nil, err
	}
	if prev != nil && ans.digest.String() == prev.Digest {
		res := &Result{Summary: prev.Summary, Unchanged: true, CheckedAt: ans.at}
		res.AuthSource = r.authSource
		return res, nil
	}
	top := ans.top
	if top == nil {
		d := ans.digest
		if top, err = c.fetchManifest(ctx, d.String(), &d, -1); err != nil {
			return nil, err
		}
	}
	res, err := r.walk(ctx, top, c)
	if err != nil {
		return nil, err
	}
	res.CheckedAt = ans.at
	return res, nil
}

// tag returns the tag's digest: from the window, or from one request shared by
// the concurrent callers of the key. The request is a HEAD when the content is
// likely cached (the caller has a previous result, or the tag was seen before),
// and otherwise a GET, whose body is the index or manifest.
func (c *sharedCall) tag(ctx context.Context, havePrevious bool) (*tagAnswer, error) {
	r := c.r
	tk := c.key + "|" + r.ref.identifier()
	c.s.mu.Lock()
	e, known := c.s.tags[tk]
	c.s.mu.Unlock()
	if known && r.opts.Cache.HeadWindow > 0 && c.s.now().Sub(e.at) < r.opts.Cache.HeadWindow {
		r.opts.observer().CacheLookup("tags", true)
		return &tagAnswer{digest: e.digest, at: e.at}, nil
	}
	r.opts.observer().CacheLookup("tags", false)
	useHead := havePrevious || known
	asked := c.s.now()
	v, err := coalesce(ctx, &c.s.flights, "tag|"+tk, r.opts.Network.Timeout, func(ctx context.Context) (any, error) {
		// A flight that ended between the lookup above and this one answered
		// after this caller asked: that answer is fresh enough.
		c.s.mu.Lock()
		e, ok := c.s.tags[tk]
		c.s.mu.Unlock()
		if ok && !e.at.Before(asked) {
			return &tagAnswer{digest: e.digest, at: e.at}, nil
		}
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
		ans := &tagAnswer{}
		if useHead {
			d, _, ok, err := r.head(ctx)
			if err != nil {
				return nil, err
			}
			if ok {
				if ans.digest, err = v1.NewHash(d); err != nil {
					ok = false
				}
			}
			useHead = ok
		}
		if !useHead {
			top, err := r.fetchTop(ctx)
			if err != nil {
				return nil, err
			}
			c.s.content.Put(c.contentKey(top.digest.String()), string(top.MediaType), top.raw)
			ans.digest, ans.top = top.digest, top
		}
		ans.at = c.s.now()
		c.s.remember(tk, tagEntry{digest: ans.digest, at: ans.at, base: c.base})
		return ans, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tagAnswer), nil
}

// remember records the tag's answer, dropping an arbitrary eighth of the entries
// when the window is full.
func (s *Shared) remember(tk string, e tagEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tags[tk]; !ok && len(s.tags) >= maxTagEntries {
		n := len(s.tags) / 8
		for k := range s.tags {
			if n == 0 {
				break
			}
			delete(s.tags, k)
			n--
		}
	}
	s.tags[tk] = e
}

func (c *sharedCall) contentKey(digest string) string {
	return cache.Key(c.r.ref.host, c.r.ref.repo.RepositoryStr(), digest)
}

// connect authenticates the caller's own resolver, once.
func (c *sharedCall) connect(ctx context.Context) error {
	if c.r.client != nil {
		return nil
	}
	return c.r.dial(ctx, c.a, c.base, c.key)
}

// fetchManifest returns the manifest or index identifier (a digest) from the
// content cache, or GETs it once for the concurrent callers of the key.
func (c *sharedCall) fetchManifest(ctx context.Context, identifier string, expect *v1.Hash, declared int64) (*fetched, error) {
	r := c.r
	if expect == nil || declared > MaxManifestSize {
		// By tag, or refused before any request.
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
		return r.fetchManifest(ctx, identifier, expect, declared)
	}
	k := c.contentKey(expect.String())
	if f := c.cachedManifest(k, *expect); f != nil {
		r.opts.observer().CacheLookup("content", true)
		return c.checkDeclared(f, identifier, declared)
	}
	r.opts.observer().CacheLookup("content", false)
	v, err := coalesce(ctx, &c.s.flights, "manifest|"+c.key+"|"+k, r.opts.Network.Timeout, func(ctx context.Context) (any, error) {
		if f := c.cachedManifest(k, *expect); f != nil {
			return f, nil // stored by a flight that ended after the lookup above
		}
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
		f, err := r.fetchManifest(ctx, identifier, expect, declared)
		if err != nil {
			return nil, err
		}
		c.s.content.Put(k, string(f.MediaType), f.raw)
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return c.checkDeclared(v.(*fetched), identifier, declared)
}

// checkDeclared checks a manifest that came from the cache or from another
// caller's flight against the size this caller's index declares, as a fetch of
// its own would: another index may have declared it otherwise.
func (c *sharedCall) checkDeclared(f *fetched, identifier string, declared int64) (*fetched, error) {
	if declared >= 0 && f.size != declared {
		return nil, newError(DigestMismatch, nil, "manifest %q of %s is %d bytes, but the index declares %d", identifier, c.r.ref.repo.RepositoryStr(), f.size, declared)
	}
	return f, nil
}

// cachedManifest parses the cached manifest k, or returns nil.
func (c *sharedCall) cachedManifest(k string, digest v1.Hash) *fetched {
	mt, raw, ok := c.s.content.Lookup(k)
	if !ok {
		return nil
	}
	f, err := parseManifest(raw, mt)
	if err != nil {
		return nil // it parsed when it was stored
	}
	f.digest, f.size, f.raw = digest, int64(len(raw)), raw
	return f
}

// fetchConfig returns the config blob d from the content cache, or GETs it once
// for the concurrent callers of the key.
func (c *sharedCall) fetchConfig(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	r := c.r
	if d.Size > MaxConfigSize || d.Size < 0 {
		return r.fetchConfig(ctx, d) // refused before any request
	}
	k := c.contentKey(d.Digest.String())
	if _, raw, ok := c.s.content.Lookup(k); ok && int64(len(raw)) == d.Size {
		r.opts.observer().CacheLookup("content", true)
		return raw, nil
	}
	r.opts.observer().CacheLookup("content", false)
	v, err := coalesce(ctx, &c.s.flights, "config|"+c.key+"|"+k+"|"+strconv.FormatInt(d.Size, 10), r.opts.Network.Timeout, func(ctx context.Context) (any, error) {
		if _, raw, ok := c.s.content.Lookup(k); ok && int64(len(raw)) == d.Size {
			return raw, nil // stored by a flight that ended after the lookup above
		}
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
		raw, err := r.fetchConfig(ctx, d)
		if err != nil {
			return nil, err
		}
		c.s.content.Put(k, string(d.MediaType), raw)
		return raw, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
