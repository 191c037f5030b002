package manifests_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// getManifest GETs repo's tag through c and returns the status code.
func getManifest(t *testing.T, c *http.Client, reg *testregistry.Registry, repo, tag string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, reg.URL()+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET through the session: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConnectReusesTheResolutionsSession: after a resolution with a session
// cache, Connect for the same repository and credentials sends nothing, and
// its client is authenticated; each request through it, every retry included,
// is reported to Connect's Observer.
func TestConnectReusesTheResolutionsSession(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	reg.PushImage(t, "some/repo", "1.0", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"a"}}))
	o := options(reg, false, "some/repo", "1.0", platforms.Platform{})
	o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
	if _, err := manifests.Resolve(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	reg.Log().Reset()

	obs := &recordingObserver{}
	o.Observer = obs
	c, repo, err := manifests.Connect(context.Background(), o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got, want := repo.Name(), reg.Host()+"/some/repo"; got != want {
		t.Errorf("repository = %s, want %s", got, want)
	}
	if n := len(reg.Log().Requests()); n != 0 {
		t.Errorf("Connect after the resolution sent %d requests, want 0:\n%s", n, reg.Log())
	}
	reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/some/repo/manifests/*", http.StatusServiceUnavailable, 1, nil))
	if code := getManifest(t, c, reg, "some/repo", "1.0"); code != http.StatusOK {
		t.Errorf("GET through the session = %d, want 200", code)
	}
	wantLog := []testregistry.Request{
		{Method: http.MethodGet, Path: "/v2/some/repo/manifests/1.0", HasAuth: true},
		{Method: http.MethodGet, Path: "/v2/some/repo/manifests/1.0", HasAuth: true},
	}
	var gotLog []testregistry.Request
	for _, r := range reg.Log().Requests() {
		gotLog = append(gotLog, testregistry.Request{Method: r.Method, Path: r.Path, HasAuth: r.HasAuth})
	}
	if diff := cmp.Diff(wantLog, gotLog); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"GET " + reg.Host() + " 503", "GET " + reg.Host() + " 200"}
	if diff := cmp.Diff(want, obs.requests); diff != "" {
		t.Errorf("requests observed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"sessions true"}, obs.caches); diff != "" {
		t.Errorf("cache lookups observed (-want +got):\n%s", diff)
	}
}

// TestConnectHandshakes: with no cached session, Connect runs the handshake
// (reported to the Observer); a cache keeps it for the next call, and without
// a cache every call runs its own.
func TestConnectHandshakes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sessions bool
		want     testregistry.Counts
	}{
		{name: "no cache", want: testregistry.Counts{Pings: 2, Tokens: 2}},
		{name: "cache", sessions: true, want: testregistry.Counts{Pings: 1, Tokens: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			o := options(reg, false, "some/repo", "1.0", platforms.Platform{})
			if tc.sessions {
				o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
			}
			obs := &recordingObserver{}
			o.Observer = obs
			for range 2 {
				if _, _, err := manifests.Connect(context.Background(), o); err != nil {
					t.Fatalf("Connect: %v", err)
				}
			}
			if diff := cmp.Diff(tc.want, reg.Log().Counts()); diff != "" {
				t.Errorf("requests of two Connects (-want +got):\n%s", diff)
			}
			var answered int
			for _, r := range obs.requests {
				if r != "GET "+reg.Host()+" error" {
					answered++
				}
			}
			if n := len(reg.Log().Requests()); answered != n {
				t.Errorf("the Observer heard of %d answered requests, the registry logged %d: %q", answered, n, obs.requests)
			}
		})
	}
}

// TestConnectErrors: Connect's errors are *manifests.Error with the reason a
// resolution would give.
func TestConnectErrors(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	reg.RequireBasic("user", "secret")
	denyAll, err := netpolicy.Parse("registry.example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*manifests.Options)
		reason manifests.Reason
	}{
		{name: "registry not allowed", modify: func(o *manifests.Options) { o.Network.Policy = denyAll }, reason: manifests.RegistryNotAllowed},
		{name: "wrong credentials", modify: func(o *manifests.Options) {
			o.Auth.Authenticator = &authn.Basic{Username: "user", Password: "wrong"}
		}, reason: manifests.Unauthorized},
		{name: "no repository", modify: func(o *manifests.Options) { o.Repository = "" }, reason: manifests.InvalidReference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(reg, false, "some/repo", "1.0", platforms.Platform{})
			o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
			tc.modify(&o)
			c, _, err := manifests.Connect(context.Background(), o)
			var me *manifests.Error
			if c != nil || !errors.As(err, &me) || me.Reason != tc.reason {
				t.Errorf("Connect = %v, %v; want a *manifests.Error with reason %s", c, err, tc.reason)
			}
			if n := o.Cache.Sessions.Len(); n != 0 {
				t.Errorf("a failed Connect cached %d sessions", n)
			}
		})
	}
}

// TestConnectDockerHubRepository: for Docker Hub's "nginx", the repository
// Connect returns is the one its session is for, on the API host:
// registry-1.docker.io/library/nginx. (Every dial goes to the test registry.)
func TestConnectDockerHubRepository(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	tr := reg.Transport().(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, reg.Host())
	}
	o := manifests.Options{Registry: "docker.io", Repository: "nginx", Tag: "1.27",
		Network: manifests.Network{Insecure: true, Transport: tr, Timeout: 10 * time.Second, RetryBackoff: fastRetry}}
	_, repo, err := manifests.Connect(context.Background(), o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got, want := repo.Name(), "registry-1.docker.io/library/nginx"; got != want {
		t.Errorf("repository = %s, want %s", got, want)
	}
}
