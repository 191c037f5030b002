package files

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestIndexResolvedReusesTheSession: with the manager's session cache, the
// layers of a resolution are indexed through the resolution's session (no
// ping, no token request); without it, with a handshake of their own, as
// before. The index is the same either way.
func TestIndexResolvedReusesTheSession(t *testing.T) {
	img := imageOf(t, mergeFixtures["whiteouts and opaque dirs"]...)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	var views []*View
	var counts []testregistry.Counts
	for _, sessions := range []bool{false, true} {
		reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
		reg.PushImage(t, repo, "v1", img)
		o := manifests.Options{Registry: reg.Host(), Repository: repo, Tag: "v1",
			Network: manifests.Network{Insecure: true, Transport: reg.Transport(), RetryBackoff: &quickRetry}}
		if sessions {
			o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
		}
		ctx := context.Background()
		res, err := manifests.Resolve(ctx, o)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		reg.Log().Reset()
		v, err := newShared(t, t.TempDir()).Indexer.IndexResolved(ctx, o, res)
		if err != nil {
			t.Fatalf("sessions=%v: IndexResolved: %v", sessions, err)
		}
		views = append(views, v)
		counts = append(counts, reg.Log().Counts())
	}
	if diff := cmp.Diff(views[0], views[1]); diff != "" {
		t.Errorf("index with the session (-without +with):\n%s", diff)
	}
	layers := counts[0].BlobGETs
	want := []testregistry.Counts{{Pings: 1, Tokens: 1, BlobGETs: layers}, {BlobGETs: layers}}
	if diff := cmp.Diff(want, counts); diff != "" || layers == 0 {
		t.Errorf("requests of the indexing, without and with the session (-want +got):\n%s", diff)
	}
}
