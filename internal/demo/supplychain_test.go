package demo_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/demo"
)

// TestSupplyChain checks what docs/supplychain.md shows: the app's base is
// current until the base moves (by a POST to the demo registry), and the signed
// image carries a cosign signature, a notation signature, provenance and an SBOM.
func TestSupplyChain(t *testing.T) {
	ctx := context.Background()
	reg, err := demo.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	opts := func(repo, tag string) manifests.Options {
		return manifests.Options{Registry: reg.Addr, Repository: repo, Tag: tag, Network: manifests.Network{Insecure: true}}
	}
	check := func() *supplychain.BaseCheck {
		t.Helper()
		app, err := manifests.Resolve(ctx, opts(demo.AppRepository, demo.AppTag))
		if err != nil {
			t.Fatal(err)
		}
		c, err := supplychain.CheckBase(ctx, app, supplychain.BaseOptions{Registry: opts("", "")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := check(); c.Outdated || c.Name != reg.Addr+"/"+demo.BaseRepository+":"+demo.BaseTag {
		t.Errorf("before the move: %+v, want a current base", c)
	}
	resp, err := http.Post("http://"+reg.Addr+demo.MoveBasePath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "is now release "+demo.BaseReleases[1]) {
		t.Errorf("POST %s: %s %s", demo.MoveBasePath, resp.Status, body)
	}
	if c := check(); !c.Outdated || c.Reason != supplychain.ReasonBaseMoved {
		t.Errorf("after the move: %+v, want BaseMoved", c)
	}

	signed, err := manifests.Resolve(ctx, opts(demo.SignedRepository, demo.Tag))
	if err != nil {
		t.Fatal(err)
	}
	list, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: opts(demo.SignedRepository, ""),
		Subjects: []string{signed.ManifestDigest, signed.Digest}, Index: signed.RawIndex})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list.Entries {
		got = append(got, e.Kind+"/"+e.Format+"/"+e.Source)
	}
	want := []string{"signature/cosign/cosignTag", "provenance/slsa/index", "sbom/spdx/index", "signature/notation/referrersAPI"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("referrers of %s (-want +got):\n%s", demo.SignedRepository, diff)
	}
}
