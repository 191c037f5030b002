package controllers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

func TestApplyRateLimit(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }
	info := func(host string, limit, remaining int64, window time.Duration) *manifests.RateLimitInfo {
		return &manifests.RateLimitInfo{Host: host, Limit: limit, Remaining: remaining, Window: window, Source: "192.0.2.7", ObservedAt: t0}
	}
	prev := func(host string, remaining int64, warned *metav1.Time) *imagesv1alpha1.RateLimitStatus {
		return &imagesv1alpha1.RateLimitStatus{Host: host, Limit: 100, Remaining: remaining, Window: &metav1.Duration{Duration: 6 * time.Hour}, Source: "192.0.2.7",
			ObservedAt: metav1.Time{Time: t0.Add(-time.Hour)}, LowWarningTime: warned}
	}
	tests := []struct {
		name       string
		prev       *imagesv1alpha1.RateLimitStatus
		info       *manifests.RateLimitInfo
		now        time.Duration
		wantRemain int64
		wantWarned *metav1.Time
		wantEvent  bool
	}{
		{"no headers keep the last", prev("h", 40, nil), nil, 0, 40, nil, false},
		{"first headers, plenty left", nil, info("h", 100, 76, 6*time.Hour), 0, 76, nil, false},
		{"10% left is not low", prev("h", 40, nil), info("h", 100, 10, 6*time.Hour), 0, 10, nil, false},
		{"under 10%: warn", prev("h", 40, nil), info("h", 100, 9, 6*time.Hour), 0, 9, at(0), true},
		{"still low within the window: no second warning", prev("h", 9, at(-5*time.Hour)), info("h", 100, 8, 6*time.Hour), 0, 8, at(-5 * time.Hour), false},
		{"still low a window later: warn again", prev("h", 9, at(-6*time.Hour)), info("h", 100, 8, 6*time.Hour), 0, 8, at(0), true},
		{"recovered: the last warning is kept", prev("h", 9, at(-time.Hour)), info("h", 100, 90, 6*time.Hour), 0, 90, at(-time.Hour), false},
		{"another host starts afresh", prev("h", 9, at(-time.Hour)), info("other", 100, 5, 6*time.Hour), 0, 5, at(0), true},
		{"no window: at most hourly", prev("h", 9, at(-30*time.Minute)), info("h", 100, 5, 0), 0, 5, at(-30 * time.Minute), false},
		{"no limit is never low", nil, info("h", 0, 0, time.Hour), 0, 0, nil, false},
		{"the same quota again keeps observedAt", prev("h", 40, nil), info("h", 100, 40, 6*time.Hour), 0, 40, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &imagesv1alpha1.ImageConfig{Status: imagesv1alpha1.ImageConfigStatus{RateLimit: tt.prev.DeepCopy()}}
			obj := base.DeepCopy()
			imagestatus.ApplyRateLimit(&obj.Status, tt.info, t0.Add(tt.now))
			// Without headers the last quota stays; otherwise the status says what
			// the registry said, observed now unless the quota is the same.
			want := tt.prev.DeepCopy()
			if tt.info != nil {
				observed := t0
				if tt.prev != nil && tt.prev.Remaining == tt.info.Remaining && tt.prev.Host == tt.info.Host {
					observed = tt.prev.ObservedAt.Time
				}
				want = &imagesv1alpha1.RateLimitStatus{Host: tt.info.Host, Limit: tt.info.Limit, Remaining: tt.wantRemain, Source: "192.0.2.7",
					ObservedAt: metav1.Time{Time: observed}, LowWarningTime: tt.wantWarned}
				if tt.info.Window > 0 {
					want.Window = &metav1.Duration{Duration: tt.info.Window}
				}
			}
			if want.Remaining != tt.wantRemain {
				t.Fatalf("the table's wantRemain %d disagrees with its quota %d", tt.wantRemain, want.Remaining)
			}
			if diff := cmp.Diff(want, obj.Status.RateLimit); diff != "" {
				t.Errorf("rateLimit (-want +got):\n%s", diff)
			}
			evs := rateLimitEvents(base, obj)
			if (len(evs) == 1) != tt.wantEvent || len(evs) > 1 {
				t.Errorf("events = %+v, want an event: %v", evs, tt.wantEvent)
			}
		})
	}
}

// fastRetryFinder is the registry finder with go-containerregistry's retries of a
// 429 or 5xx (three tries, 1 s and 3 s apart) made fast.
var fastRetryFinder = FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
	o.Network.RetryBackoff = &transport.Backoff{Duration: time.Millisecond, Steps: 3}
	return manifests.Resolve(ctx, o)
})

// fastRetryShared is the shared finder cmd/manager uses, with the retries made
// fast as in fastRetryFinder.
func fastRetryShared(now func() time.Time) Finder {
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(1 << 20), Now: now})
	return FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
		o.Network.RetryBackoff = &transport.Backoff{Duration: time.Millisecond, Steps: 3}
		return s.Resolve(ctx, o)
	})
}

// testRateLimits runs the rate-limit scenario through the plain finder and
// through the shared finder the manager uses.
func testRateLimits(t *testing.T, env *testenv.Env) {
	t.Run("plain finder", func(t *testing.T) { testRateLimitsWith(t, env, false) })
	t.Run("shared finder", func(t *testing.T) { testRateLimitsWith(t, env, true) })
}

// testRateLimitsWith drives the reconciler against a registry that sends Docker
// Hub's quota headers: the status follows them, also from HEAD re-checks and from
// a 429, and RateLimitLow is emitted once per window. Through the shared finder,
// a second object answered by the tag window and the content cache sends no
// request and so reads no headers: its status.rateLimit stays empty (a design
// limit), while the object that made the requests keeps its quota.
func testRateLimitsWith(t *testing.T, env *testenv.Env, shared bool) {
	h := newHarness(t, env)
	clock := time.Now()
	h.r.Now = func() time.Time { return clock }
	h.r.Finder = fastRetryFinder
	if shared {
		// The tag window runs on the real clock: with the frozen fake one, a
		// forced re-check would take the window's answer as a flight's answer
		// given after it asked.
		h.r.Finder = fastRetryShared(nil)
	}
	quota := testregistry.NewPullQuota(100, 50, 6*time.Hour, "192.0.2.7")
	h.reg.SetFault(quota.Fault())
	lowEvents := func(obj *imagesv1alpha1.ImageConfig) []recordedEvent {
		var out []recordedEvent
		for _, e := range h.rec.of(obj) {
			if e.reason == imagesv1alpha1.RateLimitLowEvent {
				out = append(out, e)
			}
		}
		return out
	}
	check := func(what string, got *imagesv1alpha1.ImageConfig, remaining int64) {
		t.Helper()
		rl := got.Status.RateLimit
		want := &imagesv1alpha1.RateLimitStatus{Host: h.reg.Host(), Limit: 100, Remaining: remaining, Window: &metav1.Duration{Duration: 6 * time.Hour}, Source: "192.0.2.7"}
		if diff := cmp.Diff(want, rl, cmpopts.IgnoreFields(imagesv1alpha1.RateLimitStatus{}, "ObservedAt", "LowWarningTime")); diff != "" {
			t.Fatalf("%s: rateLimit (-want +got):\n%s", what, diff)
		}
		if rl.ObservedAt.IsZero() {
			t.Fatalf("%s: rateLimit.observedAt is not set", what)
		}
	}

	// A first resolution uses two pulls (index and manifest).
	obj := h.create("quota", nil)
	_, err, got := h.reconcile(obj)
	if err != nil {
		t.Fatal(err)
	}
	check("first resolution", got, 48)
	if evs := lowEvents(obj); len(evs) != 0 {
		t.Errorf("RateLimitLow with 48%% left: %+v", evs)
	}
	if shared {
		// A second object on the same tag and platform, within the tag window:
		// answered without a request, so without headers of its own.
		h.reg.Log().Reset()
		other := h.create("quota-other", nil)
		_, err, gotOther := h.reconcile(other)
		if err != nil || len(h.reg.Log().Requests()) != 0 {
			t.Fatalf("second object: %v, want no request:\n%s", err, h.reg.Log())
		}
		if gotOther.Status.Digest != got.Status.Digest || gotOther.Status.RateLimit != nil {
			t.Errorf("second object: digest %q (want %q), rateLimit %+v (want none: it sent no request)",
				gotOther.Status.Digest, got.Status.Digest, gotOther.Status.RateLimit)
		}
	}

	// Others use the quota up to 9 left: the HEAD re-check reads it, and warns.
	quota.SetRemaining(9)
	h.reg.Log().Reset()
	h.forceRecheck(obj, "1")
	_, err, got = h.reconcile(obj)
	if err != nil || h.reg.Log().ManifestHEADs() != 1 || h.reg.Log().ManifestGETs() != 0 {
		t.Fatalf("re-check: %v\n%s", err, h.reg.Log())
	}
	check("HEAD re-check", got, 9)
	want := "registry " + h.reg.Host() + " reports 9 of 100 pulls left per 6h0m0s window, counted against 192.0.2.7"
	if evs := lowEvents(obj); len(evs) != 1 || evs[0].eventType != "Warning" || !strings.HasPrefix(evs[0].note, want) {
		t.Fatalf("RateLimitLow events = %+v, want one Warning %q", evs, want)
	}

	// More re-checks within the window: no second warning.
	for i, d := range []time.Duration{time.Hour, 4 * time.Hour} {
		clock = clock.Add(d)
		h.forceRecheck(obj, "2"+string(rune('a'+i)))
		if _, err, _ := h.reconcile(obj); err != nil {
			t.Fatal(err)
		}
	}
	if evs := lowEvents(obj); len(evs) != 1 {
		t.Fatalf("%d RateLimitLow events within one window, want 1: %+v", len(evs), evs)
	}
	// A window after the warning, still low: warned again.
	clock = clock.Add(2 * time.Hour)
	h.forceRecheck(obj, "3")
	if _, err, _ := h.reconcile(obj); err != nil {
		t.Fatal(err)
	}
	if evs := lowEvents(obj); len(evs) != 2 {
		t.Fatalf("%d RateLimitLow events after a window, want 2: %+v", len(evs), evs)
	}

	// Out of pulls: a new resolution gets 429 TOOMANYREQUESTS without Retry-After,
	// and the status and condition say what the refusal said.
	quota.SetRemaining(0)
	h.update(obj, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Platform.Variant = "v6" })
	_, err, got = h.reconcile(obj)
	if err == nil {
		t.Fatal("no error for a 429 without Retry-After: the controller would not back off")
	}
	check("429", got, 0)
	obs := got.Status.RateLimit.ObservedAt.Add(6 * time.Hour).UTC().Format(time.RFC3339)
	c := ready(got)
	if c == nil || c.Reason != "RateLimited" || !strings.Contains(c.Message, "quota: 0 of 100 pulls left per 6h0m0s, counted against 192.0.2.7; no Retry-After, expect relief by "+obs) {
		t.Errorf("Ready = %+v, want RateLimited saying relief by %s", c, obs)
	}
	rl, _ := json.Marshal(got.Status.RateLimit)
	t.Logf("status.rateLimit: %s", rl)
	t.Logf("Ready: %s", c.Message)
	t.Logf("RateLimitLow: %s", lowEvents(obj)[0].note)
	if got.Status.Digest == "" || got.Status.Platform != "linux/arm/v7" {
		t.Errorf("the 429 blanked what was resolved: digest %q, platform %q", got.Status.Digest, got.Status.Platform)
	}
}
