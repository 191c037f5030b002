package manifests_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// recordingObserver keeps what it is told, as "METHOD host code" lines.
type recordingObserver struct {
	mu         sync.Mutex
	requests   []string
	durations  []time.Duration
	rateLimits []manifests.RateLimitInfo
	caches     []string
}

func (o *recordingObserver) RegistryRequest(host, method, code string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, method+" "+host+" "+code)
	o.durations = append(o.durations, d)
}

func (o *recordingObserver) RateLimit(host string, info manifests.RateLimitInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if host != info.Host {
		panic(fmt.Sprintf("RateLimit(%q, info for %q)", host, info.Host))
	}
	o.rateLimits = append(o.rateLimits, info)
}

func (o *recordingObserver) CacheLookup(cache string, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.caches = append(o.caches, fmt.Sprintf("%s %v", cache, hit))
}

// logLines renders the registry's log as the observer would see it, with the
// status codes given in order.
func logLines(reg *testregistry.Registry, codes ...string) []string {
	var out []string
	for i, r := range reg.Log().Requests() {
		out = append(out, r.Method+" "+reg.Host()+" "+codes[i])
	}
	return out
}

// TestObserverSeesEveryRequest: each request sent (the HTTPS probe of the ping,
// the ping, the token request, GETs, HEADs and every retry) is reported once,
// with its resolution's observer even when a session's transport is shared, and
// the session cache reports its lookups.
func TestObserverSeesEveryRequest(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "some/repo", "1.0", idx)
	opts := options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "arm64"})
	opts.Cache.Sessions = manifests.NewSessions(time.Minute, 10)

	first := &recordingObserver{}
	opts.Observer = first
	res, err := manifests.Resolve(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry probes HTTPS first on a plain-HTTP registry: that try
	// fails before the registry can log it, and is reported as "error".
	want := append([]string{"GET " + reg.Host() + " error"}, logLines(reg, "401", "200", "200", "200", "200")...)
	if !slices.Equal(first.requests, want) {
		t.Errorf("first resolution observed\n%q\nwant\n%q\nregistry log:\n%s", first.requests, want, reg.Log())
	}
	for i, d := range first.durations[1:] {
		if d <= 0 {
			t.Errorf("request %d took %s", i+1, d)
		}
	}
	if !slices.Equal(first.caches, []string{"sessions false"}) || len(first.rateLimits) != 0 || res.RateLimit != nil {
		t.Errorf("caches %q, rate limits %+v, result's %+v", first.caches, first.rateLimits, res.RateLimit)
	}

	// The re-check reuses the session's transport, with another observer; a 503
	// is retried within the attempt, and the retry is seen too.
	reg.Log().Reset()
	reg.SetFault(testregistry.FailRequests(http.MethodHead, "", http.StatusServiceUnavailable, 1, nil))
	second := &recordingObserver{}
	opts.Observer = second
	opts.Previous = res
	if res, err := manifests.Resolve(context.Background(), opts); err != nil || !res.Unchanged {
		t.Fatalf("re-check: %v", err)
	}
	if want := logLines(reg, "503", "200"); !slices.Equal(second.requests, want) {
		t.Errorf("re-check observed %q, want %q", second.requests, want)
	}
	if !slices.Equal(second.caches, []string{"sessions true"}) {
		t.Errorf("re-check cache lookups %q", second.caches)
	}
	if len(first.requests) != len(want) || len(first.caches) != 1 {
		t.Errorf("the first resolution's observer saw the second's requests: %q", first.requests)
	}
}

// failingTransport fails every request without sending it.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func TestObserverTransportFailure(t *testing.T) {
	obs := &recordingObserver{}
	_, err := manifests.Resolve(context.Background(), manifests.Options{
		Registry: "registry.example:5000", Repository: "r", Tag: "t",
		Observer: obs,
		Network:  manifests.Network{Transport: failingTransport{}, RetryBackoff: fastRetry},
	})
	if err == nil {
		t.Fatal("no error")
	}
	if want := []string{"GET registry.example:5000 error"}; !slices.Equal(obs.requests, want) {
		t.Errorf("observed %q, want %q", obs.requests, want)
	}
}

// TestRateLimitHeaders: Docker Hub's quota headers are read from GET and HEAD
// answers and from a 429, reported to the observer, and returned with the
// result or the error of the resolution that saw them.
func TestRateLimitHeaders(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "library/app", "1", idx)
	quota := testregistry.NewPullQuota(100, 50, 6*time.Hour, "192.0.2.7")
	reg.SetFault(quota.Fault())
	opts := options(reg, false, "library/app", "1", platforms.Platform{OS: "linux", Architecture: "amd64"})
	opts.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
	check := func(what string, got *manifests.RateLimitInfo, remaining int64, before time.Time) {
		t.Helper()
		if got == nil {
			t.Fatalf("%s: no rate limit", what)
		}
		want := manifests.RateLimitInfo{Host: reg.Host(), Limit: 100, Remaining: remaining, Window: 6 * time.Hour, Source: "192.0.2.7"}
		if diff := cmp.Diff(want, *got, cmpopts.IgnoreFields(manifests.RateLimitInfo{}, "ObservedAt")); diff != "" {
			t.Errorf("%s: rate limit (-want +got):\n%s", what, diff)
		}
		if got.ObservedAt.Before(before) || got.ObservedAt.After(time.Now()) {
			t.Errorf("%s: observedAt %v, want between %v and now", what, got.ObservedAt, before)
		}
	}

	// Two manifest GETs (index, platform manifest) use two pulls.
	obs := &recordingObserver{}
	opts.Observer = obs
	start := time.Now()
	res, err := manifests.Resolve(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	check("first resolution", res.RateLimit, 48, start)
	if len(obs.rateLimits) != 2 || obs.rateLimits[0].Remaining != 49 || obs.rateLimits[1].Remaining != 48 {
		t.Errorf("observer got %+v, want remaining 49 then 48", obs.rateLimits)
	}

	// The re-check is one HEAD, which uses no pull; its headers still count.
	opts.Previous = res
	opts.Observer = &recordingObserver{}
	start = time.Now()
	again, err := manifests.Resolve(context.Background(), opts)
	if err != nil || !again.Unchanged {
		t.Fatalf("re-check: %v", err)
	}
	check("HEAD re-check", again.RateLimit, 48, start)

	// Over the quota: 429 TOOMANYREQUESTS without Retry-After, tried three times.
	quota.SetRemaining(0)
	reg.Log().Reset()
	opts.Previous = nil
	obs = &recordingObserver{}
	opts.Observer = obs
	start = time.Now()
	_, err = manifests.Resolve(context.Background(), opts)
	var e *manifests.Error
	if !errors.As(err, &e) || e.Reason != manifests.RateLimited || e.RetryAfter != 0 {
		t.Fatalf("err = %v, want RateLimited without Retry-After", err)
	}
	check("429", e.RateLimit, 0, start)
	if want := logLines(reg, "429", "429", "429"); !slices.Equal(obs.requests, want) {
		t.Errorf("observed %q, want %q", obs.requests, want)
	}

	// A later resolution whose answers carry no headers reports none.
	reg.SetFault(nil)
	opts.Observer = nil
	res, err = manifests.Resolve(context.Background(), opts)
	if err != nil || res.RateLimit != nil {
		t.Errorf("without headers: err %v, rate limit %+v", err, res.RateLimit)
	}
}
