package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Sessions caches authenticated registry transports between resolutions. A
// re-check of a repository that was resolved within the TTL, with the same
// credentials, skips the handshake (the /v2/ ping and the token request), so an
// unchanged tag costs exactly one HEAD. When the registry's token has expired
// meanwhile, go-containerregistry refreshes it on the 401 and retries once.
//
// Entries are keyed by registry, repository, insecure, a hash of the credentials,
// the base transport and the network policy. The zero value is not usable; use NewSessions.
type Sessions struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*session
	// flights coalesces concurrent handshakes for one key.
	flights group
}

type session struct {
	client  *http.Client
	expires time.Time
}

// NewSessions returns a cache that keeps a transport for ttl after it was created,
// and at most max transports.
func NewSessions(ttl time.Duration, max int) *Sessions {
	return &Sessions{ttl: ttl, max: max, now: time.Now, entries: map[string]*session{}}
}

// Len returns the number of cached transports.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *Sessions) get(key string) *session {
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

func (s *Sessions) put(key string, e *session) {
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

// sessionKey identifies what a transport was built for. The credentials enter it
// only as a hash.
func sessionKey(ref reference, o Options, a authn.Authenticator, base http.RoundTripper) string {
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
	return fmt.Sprintf("%s|%s|%t|%s|%p|%s|%p", ref.host, ref.repo.RepositoryStr(), o.Insecure, cred, base, o.UserAgent, o.Network)
}
