package controllers

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Backoff bounds of the retry of a transient registry error (Unavailable, or
// RateLimited without Retry-After). go-containerregistry already retries inside
// each attempt, so a registry outage costs each object one attempt per backoff
// step instead of controller-runtime's default start of 5 ms.
const (
	// RetryBaseDelay is the first backoff.
	RetryBaseDelay = 10 * time.Second
	// RetryMaxDelay caps the backoff.
	RetryMaxDelay = 5 * time.Minute
)

// intervalLimiter is the controller's rate limiter: an exponential per-object
// backoff from RetryBaseDelay, doubling up to RetryMaxDelay and further capped at
// the object's spec.interval, combined with an overall token bucket so that many
// failing objects cannot turn into a retry storm.
type intervalLimiter struct {
	inner     workqueue.TypedRateLimiter[reconcile.Request]
	intervals sync.Map // reconcile.Request -> time.Duration
}

func newIntervalLimiter(base, max time.Duration) *intervalLimiter {
	return &intervalLimiter{
		inner: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](base, max),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
		),
	}
}

// When returns how long to wait before retrying item.
func (l *intervalLimiter) When(item reconcile.Request) time.Duration {
	d := l.inner.When(item)
	if v, ok := l.intervals.Load(item); ok {
		if interval := v.(time.Duration); interval > 0 && interval < d {
			return interval
		}
	}
	return d
}

// Forget resets item's backoff and drops its recorded interval: the
// reconciler records it again with its next failure.
func (l *intervalLimiter) Forget(item reconcile.Request) {
	l.inner.Forget(item)
	l.intervals.Delete(item)
}

// NumRequeues returns how many times item failed in a row.
func (l *intervalLimiter) NumRequeues(item reconcile.Request) int { return l.inner.NumRequeues(item) }

// setInterval records item's spec.interval, the cap of its backoff, until
// Forget or remove.
func (l *intervalLimiter) setInterval(item reconcile.Request, d time.Duration) {
	if l == nil {
		return
	}
	l.intervals.Store(item, d)
}

// remove drops what is known of a deleted object.
func (l *intervalLimiter) remove(item reconcile.Request) {
	if l == nil {
		return
	}
	l.intervals.Delete(item)
	l.inner.Forget(item)
}
