package supplychain_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// twoPlatformApp pushes a two-platform index as team/app:v1 on reg, with a
// cosign signature on the index and an SBOM (with a subject) on the amd64
// manifest, and resolves it for linux/amd64 with o. It returns the resolution
// and the entries a listing of its two subjects finds; the SBOM's Source is
// left for the caller (the referrers API or the fallback tag).
func twoPlatformApp(t *testing.T, reg *testregistry.Registry, o manifests.Options) (*manifests.Result, []supplychain.Referrer) {
	t.Helper()
	amd := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"amd64"}})
	arm := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm64", Layers: []string{"arm64"}})
	idx := reg.PushIndex(t, appRepo, "v1", testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: amd}, testregistry.IndexEntry{Image: arm}))
	sig := reg.PushImage(t, appRepo, testregistry.CosignTag(idx, ".sig"), testregistry.CosignSignature(t, appRepo, idx))
	amdDesc := testregistry.DescriptorOf(t, amd)
	sbom := reg.Write(t, appRepo, "", testregistry.SBOMReferrer(t, amdDesc, nil))
	o.Tag = "v1"
	res, err := manifests.Resolve(context.Background(), o)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.ManifestDigest != amdDesc.Digest.String() || res.Digest != idx.String() {
		t.Fatalf("resolved %s in %s, want %s in %s", res.ManifestDigest, res.Digest, amdDesc.Digest, idx)
	}
	return res, []supplychain.Referrer{
		{Digest: sig.String(), ArtifactType: string(types.OCIManifestSchema1), Kind: supplychain.KindSignature,
			Format: supplychain.FormatCosign, Source: supplychain.SourceCosignTag, Subject: idx.String()},
		{Digest: sbom.String(), ArtifactType: testregistry.ArtifactTypeSPDX, Kind: supplychain.KindSBOM,
			Format: supplychain.FormatSPDX, Subject: amdDesc.Digest.String()},
	}
}

// listingRequests are the requests of one listing of the subjects manifest
// and index after the handshake, in order: cosign's three tags of each subject
// (HEAD), then the referrers API of each, or, without it, the fallback tag of
// each, the API being asked once; and the GET of the one referrer found (sbom).
func listingRequests(manifest, index, sbom string, noAPI bool) []string {
	base := "/v2/" + appRepo
	var out []string
	for _, s := range []string{manifest, index} {
		tag := strings.Replace(s, ":", "-", 1)
		for _, suffix := range []string{".sig", ".att", ".sbom"} {
			out = append(out, "HEAD "+base+"/manifests/"+tag+suffix)
		}
	}
	if noAPI {
		return append(out,
			"GET "+base+"/referrers/"+manifest,
			"GET "+base+"/manifests/"+strings.Replace(manifest, ":", "-", 1),
			"GET "+base+"/manifests/"+sbom,
			"GET "+base+"/manifests/"+strings.Replace(index, ":", "-", 1))
	}
	return append(out,
		"GET "+base+"/referrers/"+manifest,
		"GET "+base+"/manifests/"+sbom,
		"GET "+base+"/referrers/"+index)
}

func logged(reg *testregistry.Registry) []string {
	var out []string
	for _, r := range reg.Log().Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// TestListReferrersSession counts the requests of one listing of a
// two-platform image (its platform manifest and its index) on a registry with
// token authentication. Without a session cache (the CLI) every listing runs
// its own handshake; with the manager's cache, a listing after the resolution
// of the same repository reuses its session and sends no ping and no token
// request, and its requests are still counted and reported to the Observer.
// Without the referrers API, the API is asked once, not once per subject.
func TestListReferrersSession(t *testing.T) {
	handshake := []string{"GET /v2/", "GET " + testregistry.TokenPath}
	for _, tc := range []struct {
		name     string
		noAPI    bool
		sessions bool
		// handshake says whether the listing runs one.
		handshake bool
	}{
		{name: "no session cache, referrers API", handshake: true},
		{name: "no session cache, no referrers API", noAPI: true, handshake: true},
		{name: "session of the resolution, referrers API", sessions: true},
		{name: "session of the resolution, no referrers API", noAPI: true, sessions: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true, NoReferrersAPI: tc.noAPI})
			o := registryOptions(reg, appRepo)
			if tc.sessions {
				o.Cache.Sessions = manifests.NewSessions(time.Minute, 10)
			}
			res, want := twoPlatformApp(t, reg, o)
			for i := range want {
				if want[i].Source == "" {
					want[i].Source = supplychain.SourceReferrersAPI
					if tc.noAPI {
						want[i].Source = supplychain.SourceTagSchema
					}
				}
			}
			reg.Log().Reset()
			rec := &recorder{}
			o.Observer = rec
			got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{
				Registry: o, Subjects: []string{res.ManifestDigest, res.Digest}, Index: res.RawIndex,
			})
			if err != nil {
				t.Fatalf("ListReferrers: %v", err)
			}
			if diff := cmp.Diff(sortEntries(want), sortEntries(got.Entries)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			wantRequests := listingRequests(res.ManifestDigest, res.Digest, want[1].Digest, tc.noAPI)
			if tc.handshake {
				wantRequests = append(append([]string(nil), handshake...), wantRequests...)
			}
			if diff := cmp.Diff(wantRequests, logged(reg)); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if got.Requests != len(wantRequests) {
				t.Errorf("Requests = %d, want %d", got.Requests, len(wantRequests))
			}
			var answered []string
			for _, r := range rec.requests {
				if method, code, _ := strings.Cut(r, " "); code != "error" {
					answered = append(answered, method)
				}
			}
			var methods []string
			for _, r := range wantRequests {
				method, _, _ := strings.Cut(r, " ")
				methods = append(methods, method)
			}
			if diff := cmp.Diff(methods, answered); diff != "" {
				t.Errorf("requests the Observer heard of (-want +got):\n%s", diff)
			}
		})
	}
}

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

// TestListReferrersAPIAskedAgainUnless404: only a 404 says the registry has
// no referrers API (the OCI distribution spec forbids it to one that has); a
// 400 or 406 for one subject does not stop the API being asked for the next.
func TestListReferrersAPIAskedAgainUnless404(t *testing.T) {
	for _, tc := range []struct {
		status  int
		wantAPI int
	}{
		{status: http.StatusNotFound, wantAPI: 1},
		{status: http.StatusBadRequest, wantAPI: 2},
		{status: http.StatusNotAcceptable, wantAPI: 2},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			res, _ := twoPlatformApp(t, reg, registryOptions(reg, appRepo))
			reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/"+appRepo+"/referrers/*", tc.status, 0, nil))
			reg.Log().Reset()
			if _, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{
				Registry: registryOptions(reg, appRepo), Subjects: []string{res.ManifestDigest, res.Digest},
			}); err != nil {
				t.Fatalf("ListReferrers: %v", err)
			}
			got := map[string]int{
				"API":      reg.Log().CountPrefix(http.MethodGet, "/v2/"+appRepo+"/referrers/"),
				"fallback": reg.Log().CountPrefix(http.MethodGet, "/v2/"+appRepo+"/manifests/sha256-"),
			}
			if diff := cmp.Diff(map[string]int{"API": tc.wantAPI, "fallback": 2}, got); diff != "" {
				t.Errorf("GETs (-want +got):\n%s\n%s", diff, reg.Log())
			}
		})
	}
}
