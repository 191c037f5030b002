// Package cache holds the finders' content cache: manifests, indexes and config
// blobs by registry, repository and digest, bounded in bytes. What a digest
// names never changes, so an entry never goes stale; who may read it is the
// caller's to check (manifests.Shared reads an entry only after the registry
// answered for the repository with the caller's own credentials).
package cache

import (
	"container/list"
	"sync"
)

// Content is a least-recently-used cache of manifests, indexes and config blobs,
// bounded by the bytes it holds. What a digest names never changes, but who may
// read it does: entries are keyed by registry, repository and digest, never by
// digest alone, so that a manifest in one repository that names another
// repository's config digest cannot read that config from the cache. The caller
// must check who may read an entry (see the package doc). It is safe for concurrent use.
type Content struct {
	max int64

	mu    sync.Mutex
	size  int64
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type contentEntry struct {
	key       string
	mediaType string
	raw       []byte
}

// NewContent returns a cache that holds at most maxBytes of content. Zero or less
// disables it.
func NewContent(maxBytes int64) *Content {
	return &Content{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

// Key names registry/repository@digest, the key of Lookup and Put.
func Key(registry, repository, digest string) string {
	return registry + "/" + repository + "@" + digest
}

// Get returns the bytes and media type of registry/repository@digest, as the
// registry served them, when the cache holds them. registry is the host that was
// contacted, with its port ("registry-1.docker.io" for Docker Hub); repository
// is the full path ("library/nginx"). The caller must know the reader may see
// them: this lookup checks no credentials.
func (c *Content) Get(registry, repository, digest string) (mediaType string, raw []byte, ok bool) {
	return c.Lookup(Key(registry, repository, digest))
}

// Lookup returns the entry under key (see Key), as Get does.
func (c *Content) Lookup(key string) (string, []byte, bool) {
	if c == nil {
		return "", nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return "", nil, false
	}
	c.order.MoveToFront(el)
	e := el.Value.(*contentEntry)
	return e.mediaType, e.raw, true
}

// Put stores raw under key (see Key), evicting the least recently used entries to stay
// within the bound. An entry larger than the bound is not stored.
func (c *Content) Put(key, mediaType string, raw []byte) {
	if c == nil || int64(len(raw)) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&contentEntry{key: key, mediaType: mediaType, raw: raw})
	c.size += int64(len(raw))
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*contentEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.raw))
	}
}

// Len returns the number of cached entries.
func (c *Content) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Size returns the bytes held.
func (c *Content) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
