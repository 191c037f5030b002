package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/flight"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// Cache keeps authenticated registry clients between resolutions. A re-check
// of a repository that was resolved within the TTL, with the same credentials,
// skips the handshake (the /v2/ ping and the token request), so an unchanged
// tag costs exactly one HEAD. When the registry's token has expired meanwhile,
// go-containerregistry refreshes it on the 401 and retries once.
//
// Entries are keyed by Key: registry, repository, insecure, a hash of the
// credentials, the base transport and the network policy. The zero value is not
// usable; use NewCache.
type Cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	// flights coalesces concurrent handshakes for one key.
	flights flight.Group
}

type entry struct {
	client  *http.Client
	expires time.Time
}

// NewCache returns a cache that keeps a client for ttl after it was created,
// and at most max clients.
func NewCache(ttl time.Duration, max int) *Cache {
	return &Cache{ttl: ttl, max: max, now: time.Now, entries: map[string]*entry{}}
}

// Len returns the number of cached clients.
func (s *Cache) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Dial returns the cached client for key, or the one handshake builds; the
// handshake runs once for concurrent callers of one key, bounded by timeout.
// With a nil cache or an empty key it always runs handshake and keeps nothing.
// obs is told whether the cache answered. A caller whose context ends while it
// waits for another's handshake gets a *flight.WaitError.
func (s *Cache) Dial(ctx context.Context, key string, timeout time.Duration, obs Observer, handshake func(context.Context) (*http.Client, error)) (*http.Client, error) {
	if s == nil || key == "" {
		return handshake(ctx)
	}
	if e := s.get(key); e != nil {
		obs.CacheLookup("sessions", true)
		return e.client, nil
	}
	obs.CacheLookup("sessions", false)
	v, err := s.flights.Do(ctx, key, timeout, func(ctx context.Context) (any, error) {
		if e := s.get(key); e != nil {
			return e.client, nil
		}
		c, err := handshake(ctx)
		if err != nil {
			return nil, err
		}
		s.put(key, &entry{client: c})
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*http.Client), nil
}

func (s *Cache) get(key string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil
	}
	if !s.now().Before(e.expires) {
		delete(s.entries, key)
		return nil
	}
	return e
}

func (s *Cache) put(key string, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e.expires = now.Add(s.ttl)
	if len(s.entries) >= s.max {
		// Drop the expired first, then the oldest: the cache never grows past max.
		var oldest string
		for k, v := range s.entries {
			if !now.Before(v.expires) {
				delete(s.entries, k)
			} else if oldest == "" || v.expires.Before(s.entries[oldest].expires) {
				oldest = k
			}
		}
		if len(s.entries) >= s.max && oldest != "" {
			delete(s.entries, oldest)
		}
	}
	s.entries[key] = e
}

// Key identifies what a client is built for: the registry host, the
// repository, insecure, the credentials, the base transport, the user agent and
// the network policy. The credentials enter it only as a SHA-256. It is empty
// when the credentials cannot be read; nothing should then be shared.
func Key(host, repository string, insecure bool, a authn.Authenticator, base http.RoundTripper, userAgent string, network *netpolicy.Policy) string {
	cred := "anonymous"
	if a != authn.Anonymous {
		cfg, err := a.Authorization()
		if err != nil {
			return ""
		}
		b, _ := json.Marshal(cfg)
		sum := sha256.Sum256(b)
		cred = hex.EncodeToString(sum[:])
	}
	return fmt.Sprintf("%s|%s|%t|%s|%p|%s|%p", host, repository, insecure, cred, base, userAgent, network)
}
