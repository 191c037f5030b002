package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// rateLimitEvents returns the RateLimitLow warning when imagestatus.ApplyRateLimit stamped a
// new lowWarningTime.
func rateLimitEvents(base, obj *imagesv1alpha1.ImageConfig) []transitionEvent {
	cur := obj.Status.RateLimit
	if cur == nil || cur.LowWarningTime == nil {
		return nil
	}
	if old := base.Status.RateLimit; old != nil && old.LowWarningTime != nil && old.LowWarningTime.Equal(cur.LowWarningTime) {
		return nil
	}
	return []transitionEvent{{corev1.EventTypeWarning, imagesv1alpha1.RateLimitLowEvent, describeQuota(cur) +
		"; re-checks of resolved tags use HEAD, which Docker Hub does not count, but new resolutions need pulls"}}
}

// describeQuota renders a quota as "registry H reports 9 of 100 pulls left per
// 6h0m0s window, counted against S".
func describeQuota(rl *imagesv1alpha1.RateLimitStatus) string {
	s := fmt.Sprintf("registry %s reports %d of %d pulls left", rl.Host, rl.Remaining, rl.Limit)
	if rl.Window != nil {
		s += fmt.Sprintf(" per %s window", rl.Window.Duration)
	}
	if rl.Source != "" {
		s += ", counted against " + rl.Source
	}
	return s
}
