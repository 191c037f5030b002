package manifests_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lookups counts CacheLookup calls by cache and outcome.
type lookups struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *lookups) RegistryRequest(string, string, string, time.Duration) {}
func (l *lookups) RateLimit(string, manifests.RateLimitInfo)             {}
func (l *lookups) CacheLookup(cache string, hit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	k := cache + " miss"
	if hit {
		k = cache + " hit"
	}
	l.n[k]++
}

// resolveAll resolves every options value at once and fails on any error.
func resolveAll(t *testing.T, s *manifests.Shared, opts []manifests.Options) []*manifests.Result {
	t.Helper()
	out := make([]*manifests.Result, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() { out[i], errs[i] = s.Resolve(context.Background(), o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// counts is the log's counts in the order [pings tokens manifestGETs blobGETs HEADs].
func counts(pings, tokens, manifestGETs, blobGETs, heads int) testregistry.Counts {
	return testregistry.Counts{Pings: pings, Tokens: tokens, ManifestGETs: manifestGETs, BlobGETs: blobGETs, ManifestHEADs: heads}
}

// TestSharedOneTag: 20 objects on one tag cost one handshake and three GETs on
// their first resolution, then one HEAD per window, and a forced re-check asks
// the registry whatever the window says.
func TestSharedOneTag(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, images := testregistry.MultiArch(t)
	index := reg.PushIndex(t, "some/repo", "1.0", idx)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	obs := &lookups{}
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clock.Now})
	o := options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	o.Cache.HeadWindow = 30 * time.Second
	o.Observer = obs
	opts := make([]manifests.Options, 20)
	for i := range opts {
		opts[i] = o
	}

	res := resolveAll(t, s, opts)
	log := reg.Log()
	if diff := cmp.Diff(counts(1, 1, 2, 1, 0), log.Counts()); diff != "" {
		t.Fatalf("first resolution of 20: request counts (-want +got):\n%s\n%s", diff, log)
	}
	for _, r := range res {
		if r.Digest != index.String() || r.ManifestDigest != mustDigest(t, images["linux/arm/v7"]) || r.Config == nil || r.Platform != "linux/arm/v7" {
			t.Fatalf("result = %+v", r.Summary)
		}
	}
	if obs.n["tags hit"]+obs.n["tags miss"] != 20 || obs.n["content hit"]+obs.n["content miss"] < 20 {
		t.Errorf("cache lookups = %v, want one tag lookup per resolution and content lookups", obs.n)
	}

	// Re-checks with the previous result: one HEAD for all, within the window.
	for i := range opts {
		opts[i].Previous = res[i]
	}
	for round := range 3 {
		log.Reset()
		clock.Add(time.Minute) // past the window
		again := resolveAll(t, s, opts)
		if diff := cmp.Diff(counts(0, 0, 0, 0, 1), log.Counts()); diff != "" {
			t.Fatalf("round %d: exactly one HEAD (-want +got):\n%s\n%s", round, diff, log)
		}
		checked := clock.Now()
		for _, r := range again {
			if !r.Unchanged || !r.CheckedAt.Equal(checked) {
				t.Fatalf("round %d: unchanged=%v checkedAt=%v, want true and %v", round, r.Unchanged, r.CheckedAt, checked)
			}
		}
		// Later in the window: no request at all, and CheckedAt says when the registry answered.
		log.Reset()
		clock.Add(10 * time.Second)
		for _, r := range resolveAll(t, s, opts) {
			if !r.Unchanged || !r.CheckedAt.Equal(checked) {
				t.Fatalf("round %d in the window: unchanged=%v checkedAt=%v, want %v", round, r.Unchanged, r.CheckedAt, checked)
			}
		}
		if n := len(log.Requests()); n != 0 {
			t.Fatalf("round %d: %d requests within the window\n%s", round, n, log)
		}
	}

	// A forced re-check (HeadWindow 0) asks the registry.
	log.Reset()
	forced := opts[0]
	forced.Cache.HeadWindow = 0
	if _, err := s.Resolve(context.Background(), forced); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts(0, 0, 0, 0, 1), log.Counts()); diff != "" {
		t.Fatalf("forced: one HEAD (-want +got):\n%s\n%s", diff, log)
	}

	// The tag moves: one HEAD, then the new index, manifest and config, once for all.
	moved := testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: testregistry.Image(t, testregistry.ImageSpec{OS: "linux", Architecture: "arm", Variant: "v7", Layers: []string{"new"}})})
	newDigest := reg.PushIndex(t, "some/repo", "1.0", moved)
	log.Reset()
	clock.Add(time.Minute)
	for _, r := range resolveAll(t, s, opts) {
		if r.Unchanged || r.Digest != newDigest.String() {
			t.Fatalf("after the move: unchanged=%v digest=%s, want %s", r.Unchanged, r.Digest, newDigest)
		}
	}
	if diff := cmp.Diff(counts(0, 0, 2, 1, 1), log.Counts()); diff != "" {
		t.Fatalf("after the move: request counts (-want +got):\n%s\n%s", diff, log)
	}
}

// TestSharedPlatformsShareTheIndex: objects on two platforms of one tag share the
// index GET; each platform costs its manifest and config.
func TestSharedPlatformsShareTheIndex(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "some/repo", "1.0", idx)
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	var opts []manifests.Options
	for i := range 10 {
		p := platforms.Platform{OS: "linux", Architecture: "amd64"}
		if i%2 == 1 {
			p = platforms.Platform{OS: "linux", Architecture: "arm64"}
		}
		o := options(reg, false, "some/repo", "1.0", p)
		o.Cache.HeadWindow = time.Minute
		opts = append(opts, o)
	}
	res := resolveAll(t, s, opts)
	log := reg.Log()
	if log.Count("GET", "/v2/some/repo/manifests/1.0") != 1 {
		t.Errorf("index GETs by tag = %d, want 1\n%s", log.Count("GET", "/v2/some/repo/manifests/1.0"), log)
	}
	if diff := cmp.Diff(counts(1, 1, 3, 2, 0), log.Counts()); diff != "" {
		t.Fatalf("two platforms: request counts (-want +got):\n%s\n%s", diff, log)
	}
	if res[0].Platform != "linux/amd64" || res[1].Platform != "linux/arm64/v8" || res[0].ConfigDigest == res[1].ConfigDigest {
		t.Errorf("platforms = %s %s", res[0].Platform, res[1].Platform)
	}
}

// TestSharedManyTags: 200 objects over 20 tags cost 3 GETs per tag and one
// handshake for the repository; a re-check past the window costs one HEAD per
// tag and no GET.
func TestSharedManyTags(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	const tags = 20
	for i := range tags {
		img := testregistry.Image(t, testregistry.ImageSpec{OS: "linux", Architecture: "amd64", Layers: []string{"layer " + string(rune('a'+i))}})
		reg.PushIndex(t, "fleet/app", "v"+string(rune('a'+i)), testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: img}))
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clock.Now})
	var opts []manifests.Options
	for i := range 200 {
		o := options(reg, false, "fleet/app", "v"+string(rune('a'+i%tags)), platforms.Platform{})
		o.Cache.HeadWindow = time.Minute
		opts = append(opts, o)
	}
	res := resolveAll(t, s, opts)
	log := reg.Log()
	if diff := cmp.Diff(counts(1, 1, 2*tags, tags, 0), log.Counts()); diff != "" {
		t.Fatalf("200 objects over 20 tags: request counts (-want +got):\n%s\n%s", diff, log)
	}
	for i, r := range res {
		if r.Digest != res[i%tags].Digest || (i >= tags && i%tags != 0 && r.Digest == res[0].Digest) {
			t.Fatalf("object %d resolved %s", i, r.Digest)
		}
	}

	// Re-check with the previous results, past the window.
	for i := range opts {
		opts[i].Previous = res[i]
	}
	log.Reset()
	clock.Add(2 * time.Minute)
	for i, r := range resolveAll(t, s, opts) {
		if !r.Unchanged || r.Digest != res[i].Digest {
			t.Fatalf("re-check of object %d: unchanged=%v digest=%s, want unchanged %s", i, r.Unchanged, r.Digest, res[i].Digest)
		}
	}
	if diff := cmp.Diff(counts(0, 0, 0, 0, tags), log.Counts()); diff != "" {
		t.Fatalf("re-check of 200 objects over 20 tags: request counts (-want +got):\n%s\n%s", diff, log)
	}
	for i := range tags {
		path := "/v2/fleet/app/manifests/v" + string(rune('a'+i))
		if n := log.Count("HEAD", path); n != 1 {
			t.Errorf("re-check: %d HEADs of %s, want 1\n%s", n, path, log)
		}
	}
}

// TestSharedContentKeyedByRepository is the regression test for a cache keyed by
// digest alone: a manifest in one repository that names the config digest of
// another repository must not get that config from the cache. The registry is
// asked, in the manifest's own repository, and refuses.
func TestSharedContentKeyedByRepository(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	img := testregistry.Image(t, testregistry.ImageSpec{OS: "linux", Architecture: "amd64", Layers: []string{"secret"}})
	reg.PushImage(t, "tenant-a/private", "1", img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	// The same manifest bytes, pushed in another repository without its blobs.
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	reg.PushRaw(t, "tenant-b/evil", "1", string(mt), raw)
	m, _ := img.Manifest()
	// Blobs belong to their repository, as in distribution: the evil repository has no config.
	reg.SetFault(testregistry.FailRequests("GET", "/v2/tenant-b/evil/blobs/*", http.StatusNotFound, 0, nil))

	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	a := options(reg, false, "tenant-a/private", "1", platforms.Platform{})
	if _, err := s.Resolve(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Content().Get(reg.Host(), "tenant-a/private", m.Config.Digest.String()); !ok {
		t.Fatal("the config is not in the content cache under its repository")
	}
	reg.Log().Reset()
	b := options(reg, false, "tenant-b/evil", "1", platforms.Platform{})
	_, err = s.Resolve(context.Background(), b)
	var e *manifests.Error
	if !errors.As(err, &e) || e.Reason != manifests.NotFound {
		t.Fatalf("evil resolution: err = %v, want NotFound from the registry", err)
	}
	if n := reg.Log().Count("GET", "/v2/tenant-b/evil/blobs/"+m.Config.Digest.String()); n != 1 {
		t.Fatalf("the evil repository's config was not asked of the registry (%d GETs)\n%s", n, reg.Log())
	}
}

// TestSharedCredentials: a result fetched with credentials is never served to a
// resolution with none, even with the window and content cache warm.
func TestSharedCredentials(t *testing.T) {
	reg := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth, Users: map[string]string{"alice": "alice-pw"}})
	idx, _ := testregistry.MultiArch(t)
	reg.Push(t, "private/app", "1", idx)
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	o := manifests.Options{Registry: reg.Host(), Repository: "private/app", Tag: "1", Network: manifests.Network{Insecure: true, Timeout: 10 * time.Second, RetryBackoff: fastRetry}, Cache: manifests.Cache{HeadWindow: time.Hour}}
	withCreds := o
	withCreds.Auth.Authenticator = &authn.Basic{Username: "alice", Password: "alice-pw"}
	first, err := s.Resolve(context.Background(), withCreds)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		auth authn.Authenticator
		prev *manifests.Result
		// refusal is the path of the request the registry refused with 401 for
		// this resolution: the tag, or the token exchange with the wrong password.
		refusal string
	}{
		{"anonymous", nil, nil, "/v2/private/app/manifests/1"},
		{"anonymous with a copied previous result", nil, first, "/v2/private/app/manifests/1"},
		{"wrong password", &authn.Basic{Username: "alice", Password: "nope"}, first, "/token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg.Log().Reset()
			without := o
			without.Auth.Authenticator, without.Previous = tt.auth, tt.prev
			res, err := s.Resolve(context.Background(), without)
			var e *manifests.Error
			if !errors.As(err, &e) || e.Reason != manifests.Unauthorized {
				t.Fatalf("got %+v, %v; want Unauthorized", res, err)
			}
			// The refusal is the registry's answer to this resolution's own request,
			// not a cached result, session or verdict.
			refused := 0
			for _, q := range reg.Log().Requests() {
				if q.Path == tt.refusal && q.Status == http.StatusUnauthorized {
					refused++
				}
			}
			if refused == 0 {
				t.Fatalf("the registry refused no request for %s: the verdict was not the registry's\n%s", tt.refusal, reg.Log())
			}
		})
	}
}

// TestSharedByDigest: concurrent resolutions of a digest share its GETs, verified
// against the requested digest.
func TestSharedByDigest(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	d := reg.PushIndex(t, "some/repo", "1.0", idx)
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	o := options(reg, false, "some/repo", "", platforms.Platform{})
	o.Digest = d.String()
	o.Cache.HeadWindow = time.Minute
	res := resolveAll(t, s, []manifests.Options{o, o, o})
	if res[0].Digest != d.String() || res[2].ManifestDigest == "" {
		t.Fatalf("result = %+v", res[0].Summary)
	}
	if diff := cmp.Diff(counts(1, 0, 2, 1, 0), reg.Log().Counts()); diff != "" {
		t.Fatalf("by digest: request counts (-want +got):\n%s\n%s", diff, reg.Log())
	}
}

// TestSharedChecksDeclaredSize: a manifest that another index's resolution put
// in the content cache is checked against the size this index declares, as a
// fetch would check it.
func TestSharedChecksDeclaredSize(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "some/repo", "good", idx)
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		t.Fatal(err)
	}
	for i := range im.Manifests {
		im.Manifests[i].Size++
	}
	bad, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	reg.PushRaw(t, "some/repo", "bad", string(im.MediaType), bad)

	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	amd64 := platforms.Platform{OS: "linux", Architecture: "amd64"}
	if _, err := s.Resolve(context.Background(), options(reg, false, "some/repo", "good", amd64)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Resolve(context.Background(), options(reg, false, "some/repo", "bad", amd64))
	var merr *manifests.Error
	if !errors.As(err, &merr) || merr.Reason != manifests.DigestMismatch || !strings.Contains(err.Error(), "the index declares") {
		t.Errorf("resolving an index that declares the wrong size of a cached manifest: %v, want DigestMismatch", err)
	}
}
