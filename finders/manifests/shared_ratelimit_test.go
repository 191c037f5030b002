package manifests_test

import (
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestSharedRateLimitGoesToTheRequester: of concurrent resolutions through one
// flight, the callers that sent the manifest GETs report the quota headers those
// GETs carried; callers answered by another's flight or by the caches sent no
// request and report none.
func TestSharedRateLimitGoesToTheRequester(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "some/repo", "1.0", idx)
	reg.SetFault(testregistry.NewPullQuota(100, 50, 6*time.Hour, "192.0.2.7").Fault())
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	o := options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	o.Cache.HeadWindow = 30 * time.Second
	opts := make([]manifests.Options, 20)
	for i := range opts {
		opts[i] = o
	}

	res := resolveAll(t, s, opts)
	gets := reg.Log().ManifestGETs()
	if gets != 2 {
		t.Fatalf("%d manifest GETs, want 2 (index and manifest)\n%s", gets, reg.Log())
	}
	var reporting, sawLast int
	for _, r := range res {
		if rl := r.RateLimit; rl != nil {
			reporting++
			if rl.Host != reg.Host() || rl.Limit != 100 || rl.Window != 6*time.Hour || rl.Source != "192.0.2.7" || (rl.Remaining != 49 && rl.Remaining != 48) {
				t.Errorf("rateLimit = %+v, want %s 100/49 or 100/48 per 6h from 192.0.2.7", rl, reg.Host())
			}
			if rl.Remaining == 48 {
				sawLast++
			}
		}
	}
	// One caller sent the index GET and one the manifest GET (possibly the same).
	if reporting < 1 || reporting > gets || sawLast != 1 {
		t.Errorf("%d of 20 results report a quota (%d with the manifest GET's 48), want 1 or 2, exactly one with 48", reporting, sawLast)
	}

	// Later in the window: no request, so no quota to report.
	for _, r := range resolveAll(t, s, opts[:1]) {
		if r.RateLimit != nil {
			t.Errorf("a resolution answered by the caches reports %+v", r.RateLimit)
		}
	}
}
