package manifests_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestSessionsReachTheFloor: with a session cache, an unchanged re-check is one
// HEAD and nothing else, and objects sharing a repository share one handshake.
func TestSessionsReachTheFloor(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "some/repo", "1.0", idx)
	sessions := manifests.NewSessions(time.Minute, 10)
	opts := options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "arm64"})
	opts.Cache.Sessions = sessions
	ctx := context.Background()

	first, err := manifests.Resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	log := reg.Log()
	if log.Pings() != 1 || log.Tokens() != 1 {
		t.Fatalf("first resolution: %d pings, %d tokens\n%s", log.Pings(), log.Tokens(), log)
	}

	log.Reset()
	opts.Previous = first
	res, err := manifests.Resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(log.Requests()); got != 1 || log.ManifestHEADs() != 1 || !res.Unchanged {
		t.Fatalf("re-check: %d requests (want exactly 1 HEAD), unchanged=%v\n%s", got, res.Unchanged, log)
	}

	// Another platform of the same repository: no new handshake.
	log.Reset()
	other := opts
	other.Previous = nil
	other.Platform = platforms.Platform{OS: "linux", Architecture: "s390x"}
	if _, err := manifests.Resolve(ctx, other); err != nil {
		t.Fatal(err)
	}
	want := testregistry.Counts{ManifestGETs: 2, BlobGETs: 1}
	if diff := cmp.Diff(want, log.Counts(), cmpopts.IgnoreFields(testregistry.Counts{}, "ManifestHEADs")); diff != "" {
		t.Errorf("shared session: request counts (-want +got):\n%s\n%s", diff, log)
	}

	// Other credentials never reuse a session.
	log.Reset()
	withAuth := opts
	withAuth.Auth.Authenticator = &authn.Basic{Username: "u", Password: "p"}
	if _, err := manifests.Resolve(ctx, withAuth); err != nil {
		t.Fatal(err)
	}
	if log.Pings() != 1 || log.Tokens() != 1 {
		t.Errorf("credentials shared a session: %d pings, %d tokens", log.Pings(), log.Tokens())
	}
	if sessions.Len() != 2 {
		t.Errorf("%d sessions, want 2", sessions.Len())
	}
}

func TestSessionsExpireAndStayBounded(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	for _, repo := range []string{"a/x", "b/x", "c/x"} {
		reg.PushImage(t, repo, "1", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{repo}}))
	}
	sessions := manifests.NewSessions(50*time.Millisecond, 2)
	for _, repo := range []string{"a/x", "b/x", "c/x"} {
		o := options(reg, false, repo, "1", platforms.Platform{})
		o.Cache.Sessions = sessions
		if _, err := manifests.Resolve(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if sessions.Len() > 2 {
			t.Fatalf("%d sessions, bound is 2", sessions.Len())
		}
	}
	time.Sleep(60 * time.Millisecond)
	reg.Log().Reset()
	o := options(reg, false, "c/x", "1", platforms.Platform{})
	o.Cache.Sessions = sessions
	if _, err := manifests.Resolve(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if reg.Log().Pings() != 1 {
		t.Errorf("an expired session was reused: %d pings", reg.Log().Pings())
	}
}
