package imagestatus

import (
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// LowQuotaWarningInterval is how often RateLimitLow is emitted when the registry
// gives no window.
const LowQuotaWarningInterval = time.Hour

// RateLimitOf returns the quota a resolution reported, from its result or its error.
func RateLimitOf(res *manifests.Result, err error) *manifests.RateLimitInfo {
	var e *manifests.Error
	switch {
	case err != nil && errors.As(err, &e):
		return e.RateLimit
	case err == nil && res != nil:
		return res.RateLimit
	}
	return nil
}

// QuotaLow reports whether under 10% of the quota remains.
func QuotaLow(limit, remaining int64) bool {
	return limit > 0 && remaining*10 < limit
}

// ApplyRateLimit records the quota a resolution reported; without one the status
// keeps the last. observedAt moves only when the quota's values do. When under 10% remains and no RateLimitLow warning was emitted
// within the last window, it stamps lowWarningTime with now: the controller emits
// the warning from that change, so it is emitted once per window, across restarts.
func ApplyRateLimit(st *imagesv1alpha1.ImageConfigStatus, info *manifests.RateLimitInfo, now time.Time) {
	if info == nil {
		return
	}
	prev := st.RateLimit
	rl := &imagesv1alpha1.RateLimitStatus{
		Host: info.Host, Limit: info.Limit, Remaining: info.Remaining, Source: info.Source,
		ObservedAt: metav1.Time{Time: info.ObservedAt},
	}
	if info.Window > 0 {
		rl.Window = &metav1.Duration{Duration: info.Window}
	}
	if prev != nil && prev.Host == rl.Host {
		rl.LowWarningTime = prev.LowWarningTime
		// An answer that repeats the quota does not move observedAt, so that it
		// costs no status write of its own.
		if prev.Limit == rl.Limit && prev.Remaining == rl.Remaining && prev.Source == rl.Source && windowOf(prev) == info.Window {
			rl.ObservedAt = prev.ObservedAt
		}
	}
	if QuotaLow(rl.Limit, rl.Remaining) {
		every := LowQuotaWarningInterval
		if info.Window > 0 {
			every = info.Window
		}
		if rl.LowWarningTime == nil || !now.Before(rl.LowWarningTime.Add(every)) {
			rl.LowWarningTime = &metav1.Time{Time: now}
		}
	}
	st.RateLimit = rl
}

// windowOf returns the quota's window, or zero when the registry gave none.
func windowOf(rl *imagesv1alpha1.RateLimitStatus) time.Duration {
	if rl.Window == nil {
		return 0
	}
	return rl.Window.Duration
}

// RateLimitedMessage is the condition message of a 429: the registry's error and
// when to expect relief, from its Retry-After, or, as Docker Hub sends none, from
// the quota's window (a sliding window: relief comes by then at the latest).
func RateLimitedMessage(e *manifests.Error, now time.Time) string {
	msg := e.Error()
	switch rl := e.RateLimit; {
	case e.RetryAfter > 0:
		msg += fmt.Sprintf("; expect relief at %s", now.Add(e.RetryAfter).UTC().Format(time.RFC3339))
	case rl != nil && rl.Window > 0:
		msg += fmt.Sprintf("; quota: %d of %d pulls left per %s", rl.Remaining, rl.Limit, rl.Window)
		if rl.Source != "" {
			msg += ", counted against " + rl.Source
		}
		msg += fmt.Sprintf("; no Retry-After, expect relief by %s, one window after the refusal", rl.ObservedAt.Add(rl.Window).UTC().Format(time.RFC3339))
	default:
		msg += "; the registry said neither Retry-After nor its quota's window, retrying with backoff"
	}
	return msg
}
