// Package flight coalesces concurrent registry calls: callers that ask for the
// same key while a call is running wait for its answer instead of sending their
// own request. The shared resolver (manifests.Shared) and the session cache use
// it for handshakes, tag lookups, manifests and config blobs.
package flight

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultTimeout bounds a call when Do is given no timeout.
const DefaultTimeout = time.Minute

// Group coalesces concurrent calls with one key: the first caller starts the
// call, later callers with the same key wait for its answer. The call runs in its
// own goroutine with a context detached from every caller's cancellation and
// bounded by its own timeout, so a caller that gives up (its context ended) does
// not fail the others: it returns early, and the call still completes and fills
// the caches for whoever comes next. A call that panics answers every waiter with
// an error. The zero value is ready to use.
type Group struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	val  any
	err  error
}

// WaitError is returned to a caller whose context ended before the call it
// waited for answered. The call itself goes on for the other callers.
type WaitError struct {
	// Err is the caller's context error.
	Err error
}

// Error implements error.
func (e *WaitError) Error() string {
	return fmt.Sprintf("gave up waiting for a registry call: %v", e.Err)
}

// Unwrap returns the caller's context error.
func (e *WaitError) Unwrap() error { return e.Err }

// Do runs fn once for concurrent callers of key and returns its answer, or a
// *WaitError when the caller's context ends first. timeout bounds the call;
// zero or less means DefaultTimeout.
func (g *Group) Do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (any, error)) (any, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call{}
	}
	c, ok := g.calls[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		g.calls[key] = c
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					c.val, c.err = nil, fmt.Errorf("internal error: a registry call panicked: %v", p)
				}
				cancel()
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = fn(fctx)
		}()
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, &WaitError{Err: ctx.Err()}
	}
}
