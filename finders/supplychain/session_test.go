package supplychain_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestListReferrersSessionCold: with the session cache but no resolution
// before it, the first listing runs the handshake and keeps the session; the
// second sends no ping and no token request. A listing under a network policy
// that refuses the registry is refused before any request, cache or not.
func TestListReferrersSessionCold(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	img := appImage(t, "app")
	d := reg.PushImage(t, appRepo, "v1", img)
	o := registryOptions(reg, appRepo)
	o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
	reg.Log().Reset()
	var counts []testregistry.Counts
	for range 2 {
		if _, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{Registry: o, Subjects: []string{d.String()}}); err != nil {
			t.Fatalf("ListReferrers: %v", err)
		}
		counts = append(counts, reg.Log().Counts())
		reg.Log().Reset()
	}
	want := []testregistry.Counts{{Pings: 1, Tokens: 1, ManifestHEADs: 3}, {ManifestHEADs: 3}}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("counts of two listings (-want +got):\n%s", diff)
	}
	if n := o.Cache.Sessions.Len(); n != 1 {
		t.Errorf("sessions cached = %d, want 1", n)
	}

	policy, err := netpolicy.Parse("registry.example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	o.Network.Policy = policy
	_, err = supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{Registry: o, Subjects: []string{d.String()}})
	if manifests.ReasonOf(err) != manifests.RegistryNotAllowed {
		t.Errorf("err = %v, want RegistryNotAllowed", err)
	}
	if n := len(reg.Log().Requests()); n != 0 {
		t.Errorf("a refused listing sent %d requests:\n%s", n, reg.Log())
	}
}
