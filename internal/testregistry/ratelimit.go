package testregistry

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// PullQuota imitates Docker Hub's pull rate limit. Every manifest request (GET
// and HEAD) gets the headers "ratelimit-limit: <limit>;w=<window seconds>",
// "ratelimit-remaining: <remaining>;w=<window seconds>" and
// "docker-ratelimit-source: <source>". A manifest GET uses one pull; a HEAD uses
// none. Once none remain, a manifest GET gets 429 with the error code
// TOOMANYREQUESTS and no Retry-After, as Docker Hub answers; a HEAD still
// succeeds. Install it with SetFault(q.Fault()), or in a Chain.
type PullQuota struct {
	limit  int
	window time.Duration
	source string

	mu        sync.Mutex
	remaining int
}

// NewPullQuota returns a quota of limit pulls per window, of which remaining are left.
func NewPullQuota(limit, remaining int, window time.Duration, source string) *PullQuota {
	return &PullQuota{limit: limit, window: window, source: source, remaining: remaining}
}

// Remaining returns the pulls left.
func (q *PullQuota) Remaining() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.remaining
}

// SetRemaining sets the pulls left.
func (q *PullQuota) SetRemaining(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.remaining = n
}

// Fault returns the fault that applies the quota. It handles (with a 429) only
// manifest GETs over the quota; every other request passes through.
func (q *PullQuota) Fault() Fault {
	return func(w http.ResponseWriter, req *http.Request) bool {
		if _, kind, _, ok := parsePath(req.URL.Path); !ok || kind != "manifests" {
			return false
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return false
		}
		q.mu.Lock()
		over := req.Method == http.MethodGet && q.remaining == 0
		if req.Method == http.MethodGet && q.remaining > 0 {
			q.remaining--
		}
		remaining := q.remaining
		q.mu.Unlock()

		secs := int64(q.window / time.Second)
		w.Header().Set("ratelimit-limit", fmt.Sprintf("%d;w=%d", q.limit, secs))
		w.Header().Set("ratelimit-remaining", fmt.Sprintf("%d;w=%d", remaining, secs))
		if q.source != "" {
			w.Header().Set("docker-ratelimit-source", q.source)
		}
		if over {
			WriteError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS",
				"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit")
			return true
		}
		return false
	}
}
