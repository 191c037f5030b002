package controllers

import (
	"hash/fnv"
	"time"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// recheckJitter is the largest share of the interval added to it.
const recheckJitter = 0.10

// recheckInterval is spec.interval stretched by 0 to 10 %, by an amount fixed
// per object (from its UID). Objects created together then re-check at spread
// times instead of all in the same second, forever; an object never re-checks
// sooner than its interval. Objects on one tag still share their HEAD: the
// shared finder's window (half the interval) covers the spread, and
// lastCheckedTime records when the registry answered, which pulls them back
// together.
func recheckInterval(obj *imagesv1alpha1.ImageConfig) time.Duration {
	interval := obj.GetInterval()
	if obj.UID == "" {
		return interval
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(obj.UID))
	frac := float64(h.Sum64()%10_000) / 10_000
	return interval + time.Duration(float64(interval)*recheckJitter*frac)
}

// headWindow is how long a registry's answer for the tag, got for any object
// with the same key, may stand in for this object's own HEAD: half its
// re-check interval, and not at all when a re-check was requested with the
// requested-at annotation, which must ask the registry.
func headWindow(obj *imagesv1alpha1.ImageConfig) time.Duration {
	if obj.GetAnnotations()[imagesv1alpha1.ReconcileRequestAnnotation] != obj.Status.LastHandledReconcileAt {
		return 0
	}
	return recheckInterval(obj) / 2
}

// checkedAt is when the registry answered for this object's resolution: the
// finder's CheckedAt when it reused a recent answer, else now.
func checkedAt(reported, now time.Time) time.Time {
	if reported.IsZero() || reported.After(now) {
		return now
	}
	return reported
}
