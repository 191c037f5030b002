package supplychain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

const appRepo = "team/app"

// registryOptions are the options of reg's repository repo.
func registryOptions(reg *testregistry.Registry, repo string) manifests.Options {
	return manifests.Options{Registry: reg.Host(), Repository: repo, Network: manifests.Network{Insecure: true, Transport: reg.Transport()}}
}

func appImage(t *testing.T, layers ...string) v1.Image {
	t.Helper()
	return testregistry.Image(t, testregistry.ImageSpec{Layers: layers})
}

// sortEntries orders entries for comparison and drops what each test does not compare.
func sortEntries(es []supplychain.Referrer) []supplychain.Referrer {
	out := append([]supplychain.Referrer(nil), es...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Source+a.Kind+a.Format+a.Digest < b.Source+b.Kind+b.Format+b.Digest
	})
	return out
}

// TestListReferrersSources pushes a cosign .sig tag, a notation signature and
// an SPDX SBOM (both with a subject, written with remote.Write) and lists them,
// on a registry with the referrers API and on one that answers it with 404.
func TestListReferrersSources(t *testing.T) {
	for _, tc := range []struct {
		name         string
		noAPI        bool
		subjectSrc   string
		wantFallback int // GETs of the sha256-<hex> fallback tag
	}{
		{name: "referrers API", subjectSrc: supplychain.SourceReferrersAPI},
		{name: "no referrers API: tag schema", noAPI: true, subjectSrc: supplychain.SourceTagSchema, wantFallback: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: tc.noAPI})
			img := appImage(t, "base", "app")
			d := reg.PushImage(t, appRepo, "v1", img)
			subject := testregistry.DescriptorOf(t, img)
			sig := testregistry.CosignSignature(t, appRepo, d)
			sigDigest := reg.PushImage(t, appRepo, testregistry.CosignTag(d, ".sig"), sig)
			notation := reg.Write(t, appRepo, "", testregistry.NotationSignature(t, subject))
			sbom := reg.Write(t, appRepo, "", testregistry.SBOMReferrer(t, subject, map[string]string{"org.example.note": "<b>bold</b>"}))
			reg.Log().Reset()

			got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{
				Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()},
			})
			if err != nil {
				t.Fatalf("ListReferrers: %v", err)
			}
			want := []supplychain.Referrer{
				{Digest: sigDigest.String(), ArtifactType: string(types.OCIManifestSchema1), Kind: supplychain.KindSignature,
					Format: supplychain.FormatCosign, Source: supplychain.SourceCosignTag, Subject: d.String()},
				{Digest: notation.String(), ArtifactType: testregistry.ArtifactTypeNotation, Kind: supplychain.KindSignature,
					Format: supplychain.FormatNotation, Source: tc.subjectSrc, Subject: d.String(),
					Annotations: map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": `["fixture"]`}},
				{Digest: sbom.String(), ArtifactType: testregistry.ArtifactTypeSPDX, Kind: supplychain.KindSBOM,
					Format: supplychain.FormatSPDX, Source: tc.subjectSrc, Subject: d.String(),
					Annotations: map[string]string{"org.example.note": "<b>bold</b>"}},
			}
			if diff := cmp.Diff(sortEntries(want), sortEntries(got.Entries)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if got.Truncated || got.IgnoredSubjects != 0 {
				t.Errorf("Truncated=%v IgnoredSubjects=%d, want false, 0", got.Truncated, got.IgnoredSubjects)
			}
			if n := len(reg.Log().Requests()); got.Requests != n {
				t.Errorf("Requests = %d, the registry logged %d:\n%s", got.Requests, n, reg.Log())
			}
			fallbackTag := "/v2/" + appRepo + "/manifests/" + testregistry.CosignTag(d, "")
			if n := reg.Log().Count(http.MethodGet, fallbackTag); n != tc.wantFallback {
				t.Errorf("GETs of the fallback tag = %d, want %d:\n%s", n, tc.wantFallback, reg.Log())
			}
			// One HEAD per cosign tag: .sig, .att and .sbom.
			if n := reg.Log().CountPrefix(http.MethodHead, "/v2/"+appRepo+"/manifests/sha256-"); n != 3 {
				t.Errorf("cosign tag HEADs = %d, want 3:\n%s", n, reg.Log())
			}
		})
	}
}

// TestListReferrersBuildKitIndex lists BuildKit attestation manifests in the
// index: the amd64 image's provenance and SBOM, not the arm64 image's.
func TestListReferrersBuildKitIndex(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	amd := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"amd64"}})
	arm := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm64", Layers: []string{"arm64"}})
	idx := testregistry.AttestedIndex(t, []v1.Image{amd, arm}, testregistry.PredicateSLSAProvenance, testregistry.PredicateSPDX)
	idxDigest := reg.PushIndex(t, appRepo, "v1", idx)
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	amdDigest, _ := amd.Digest()
	attDigest := im.Manifests[2].Digest.String() // amd64's attestation manifest

	got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{
		Registry: registryOptions(reg, appRepo), Subjects: []string{amdDigest.String(), idxDigest.String()}, Index: raw,
	})
	if err != nil {
		t.Fatalf("ListReferrers: %v", err)
	}
	want := []supplychain.Referrer{
		{Digest: attDigest, ArtifactType: string(testregistry.MediaTypeInToto), Kind: supplychain.KindProvenance, Format: supplychain.FormatSLSA,
			Source: supplychain.SourceIndex, Subject: amdDigest.String(),
			Annotations: map[string]string{testregistry.AnnotationPredicateType: testregistry.PredicateSLSAProvenance}},
		{Digest: attDigest, ArtifactType: string(testregistry.MediaTypeInToto), Kind: supplychain.KindSBOM, Format: supplychain.FormatSPDX,
			Source: supplychain.SourceIndex, Subject: amdDigest.String(),
			Annotations: map[string]string{testregistry.AnnotationPredicateType: testregistry.PredicateSPDX}},
	}
	if diff := cmp.Diff(sortEntries(want), sortEntries(got.Entries)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// bodyCounter counts the response body bytes read through it.
type bodyCounter struct {
	inner http.RoundTripper
	n     atomic.Int64
}

func (c *bodyCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if resp != nil {
		resp.Body = countedBody{ReadCloser: resp.Body, n: &c.n}
	}
	return resp, err
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// bigIndex is a referrers index of real descriptors followed by fake ones, n in all.
func bigIndex(t testing.TB, real []v1.Descriptor, n int) []byte {
	t.Helper()
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: append([]v1.Descriptor(nil), real...)}
	for i := len(real); i < n; i++ {
		h, _, _ := v1.SHA256(strings.NewReader(fmt.Sprint("fake referrer ", i)))
		im.Manifests = append(im.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: 500,
			ArtifactType: testregistry.ArtifactTypeSPDX})
	}
	b, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestListReferrersBounded serves a fallback tag index of 10,000 entries, 30 of
// them real referrers: 20 are kept, Truncated is set, only the first few
// kilobytes of the 1.9 MB index are read, and the cosign signature is not
// crowded out.
func TestListReferrersBounded(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: true})
	img := appImage(t, "app")
	d := reg.PushImage(t, appRepo, "v1", img)
	subject := testregistry.DescriptorOf(t, img)
	var real []v1.Descriptor
	for i := range 30 {
		ref := testregistry.SBOMReferrer(t, subject, map[string]string{"n": fmt.Sprint(i)})
		reg.PushImage(t, appRepo, "", ref)
		real = append(real, testregistry.DescriptorOf(t, ref))
	}
	body := bigIndex(t, real, 10_000)
	reg.PushRaw(t, appRepo, testregistry.CosignTag(d, ""), string(types.OCIImageIndex), body)
	sig := reg.PushImage(t, appRepo, testregistry.CosignTag(d, ".sig"), testregistry.CosignSignature(t, appRepo, d))

	counter := &bodyCounter{inner: reg.Transport()}
	o := registryOptions(reg, appRepo)
	o.Network.Transport = counter
	got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{Registry: o, Subjects: []string{d.String()}})
	if err != nil {
		t.Fatalf("ListReferrers: %v", err)
	}
	if len(got.Entries) != supplychain.MaxReferrers || !got.Truncated {
		t.Errorf("got %d entries, Truncated=%v; want %d, true", len(got.Entries), got.Truncated, supplychain.MaxReferrers)
	}
	if len(got.Entries) == 0 || got.Entries[0].Digest != sig.String() || got.Entries[0].Kind != supplychain.KindSignature {
		t.Errorf("first entry %+v, want the cosign signature %s", got.Entries[0], sig)
	}
	// 20 referrer manifests of ~600 bytes, the first 21 descriptors of the index
	// and the decoder's buffer: far below the index's size.
	if read, limit := counter.n.Load(), int64(64<<10); read > limit {
		t.Errorf("read %d bytes of responses, want at most %d (the index alone is %d)", read, limit, len(body))
	}
	t.Logf("index %d bytes, read %d bytes in %d requests", len(body), counter.n.Load(), got.Requests)
}

// TestListReferrersBadInput covers the bad inputs of the issue.
func TestListReferrersBadInput(t *testing.T) {
	ctx := context.Background()

	t.Run("subject is another digest: ignored and counted", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: true})
		img, other := appImage(t, "app"), appImage(t, "other")
		d := reg.PushImage(t, appRepo, "v1", img)
		reg.PushImage(t, appRepo, "other", other)
		mine := testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), nil)
		foreign := testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, other), nil)
		reg.PushImage(t, appRepo, "", mine)
		reg.PushImage(t, appRepo, "", foreign)
		body := bigIndex(t, []v1.Descriptor{testregistry.DescriptorOf(t, foreign), testregistry.DescriptorOf(t, mine)}, 2)
		reg.PushRaw(t, appRepo, testregistry.CosignTag(d, ""), string(types.OCIImageIndex), body)

		got, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()}})
		if err != nil {
			t.Fatalf("ListReferrers: %v", err)
		}
		mineDigest, _ := mine.Digest()
		if len(got.Entries) != 1 || got.Entries[0].Digest != mineDigest.String() || got.IgnoredSubjects != 1 {
			t.Errorf("got %+v, want only %s and IgnoredSubjects 1", got, mineDigest)
		}
	})

	t.Run("fallback tag that is not an index: skipped with a note", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: true})
		img := appImage(t, "app")
		d := reg.PushImage(t, appRepo, "v1", img)
		reg.PushImage(t, appRepo, testregistry.CosignTag(d, ""), appImage(t, "not an index"))
		reg.PushImage(t, appRepo, testregistry.CosignTag(d, ".sig"), testregistry.CosignSignature(t, appRepo, d))

		got, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()}})
		if err != nil {
			t.Fatalf("ListReferrers: %v", err)
		}
		if len(got.Entries) != 1 || got.Entries[0].Source != supplychain.SourceCosignTag {
			t.Errorf("entries %+v, want the cosign signature only", got.Entries)
		}
		if len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "not an index: skipped") {
			t.Errorf("notes %q, want one saying the fallback tag is not an index", got.Notes)
		}
	})

	t.Run("referrer manifests missing, too large or not matching their digest: skipped with notes", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: true})
		img := appImage(t, "app")
		d := reg.PushImage(t, appRepo, "v1", img)
		good := testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), nil)
		reg.PushImage(t, appRepo, "", good)
		big := testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), map[string]string{"pad": strings.Repeat("x", supplychain.MaxReferrerManifestSize)})
		reg.PushImage(t, appRepo, "", big)
		liar, _, _ := v1.SHA256(strings.NewReader("the digest of something else"))
		reg.PushRaw(t, appRepo, liar.String(), string(types.OCIManifestSchema1), []byte(`{"schemaVersion":2}`))
		missing := testregistry.DescriptorOf(t, testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), map[string]string{"never": "pushed"}))
		listed := []v1.Descriptor{missing, testregistry.DescriptorOf(t, big), {MediaType: types.OCIManifestSchema1, Digest: liar, Size: 19}, testregistry.DescriptorOf(t, good)}
		reg.PushRaw(t, appRepo, testregistry.CosignTag(d, ""), string(types.OCIImageIndex), bigIndex(t, listed, len(listed)))

		got, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()}})
		if err != nil {
			t.Fatalf("ListReferrers: %v", err)
		}
		goodDigest, _ := good.Digest()
		if len(got.Entries) != 1 || got.Entries[0].Digest != goodDigest.String() {
			t.Errorf("entries %+v, want only %s", got.Entries, goodDigest)
		}
		wantNotes := []string{"is listed but not found: skipped", "manifest is over 262144 bytes: skipped", "manifest hashed to sha256:"}
		if len(got.Notes) != 3 {
			t.Fatalf("notes %q, want 3", got.Notes)
		}
		for i, n := range got.Notes {
			if !strings.Contains(n, wantNotes[i]) {
				t.Errorf("note %d = %q, want it to contain %q", i, n, wantNotes[i])
			}
		}
	})

	t.Run("annotations carrying markup are kept as data", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{})
		img := appImage(t, "app")
		d := reg.PushImage(t, appRepo, "v1", img)
		markup := `<script>alert("x")</script><img src=x onerror=alert(1)>`
		reg.Write(t, appRepo, "", testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), map[string]string{"org.example.title": markup}))
		got, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()}})
		if err != nil {
			t.Fatalf("ListReferrers: %v", err)
		}
		if len(got.Entries) != 1 || got.Entries[0].Annotations["org.example.title"] != markup {
			t.Errorf("entries %+v, want one with the markup annotation kept verbatim", got.Entries)
		}
	})

	t.Run("host the network policy denies: error before any request", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{})
		policy, err := netpolicy.Parse("registry.example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		o := registryOptions(reg, appRepo)
		o.Network.Policy = policy
		_, err = supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: o, Subjects: []string{"sha256:" + strings.Repeat("a", 64)}})
		if manifests.ReasonOf(err) != manifests.RegistryNotAllowed || !strings.Contains(err.Error(), reg.Host()) {
			t.Errorf("err = %v, want RegistryNotAllowed naming %s", err, reg.Host())
		}
		if n := len(reg.Log().Requests()); n != 0 {
			t.Errorf("%d requests were made, want none:\n%s", n, reg.Log())
		}
	})

	t.Run("subject that is not a digest", func(t *testing.T) {
		_, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Subjects: []string{"latest"}})
		if err == nil || !strings.Contains(err.Error(), `"latest" is not a digest`) {
			t.Errorf("err = %v, want one naming the bad subject", err)
		}
	})

	t.Run("registry error is returned", func(t *testing.T) {
		reg := testregistry.New(t, testregistry.Options{})
		d := reg.PushImage(t, appRepo, "v1", appImage(t, "app"))
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/referrers/") {
				testregistry.WriteError(w, http.StatusForbidden, "DENIED", "no")
				return true
			}
			return false
		})
		_, err := supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: registryOptions(reg, appRepo), Subjects: []string{d.String()}})
		if manifests.ReasonOf(err) != manifests.Unauthorized || !strings.Contains(err.Error(), "DENIED") {
			t.Errorf("err = %v, want Unauthorized with the registry's DENIED", err)
		}
	})
}

// recorder is a manifests.Observer that records registry requests.
type recorder struct {
	mu       sync.Mutex
	requests []string
}

func (r *recorder) RegistryRequest(host, method, code string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, method+" "+code)
}
func (r *recorder) RateLimit(string, manifests.RateLimitInfo) {}
func (r *recorder) CacheLookup(string, bool)                  {}

// TestListReferrersUnderPolicyObserved: under the manager's default network
// policy (enforced at dial time on an *http.Transport), a listing works, and the
// Observer hears of every request the registry answered.
func TestListReferrersUnderPolicyObserved(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	img := appImage(t, "app")
	d := reg.PushImage(t, appRepo, "v1", img)
	reg.Write(t, appRepo, "", testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), nil))
	reg.Log().Reset()
	policy, err := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o := registryOptions(reg, appRepo)
	o.Network.Policy, o.Observer = policy, rec
	got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{Registry: o, Subjects: []string{d.String()}})
	if err != nil {
		t.Fatalf("ListReferrers under the default policy: %v", err)
	}
	if len(got.Entries) != 1 {
		t.Errorf("entries %+v, want the SBOM", got.Entries)
	}
	var logged []string
	for _, r := range reg.Log().Requests() {
		logged = append(logged, r.Method)
	}
	var answered []string
	for _, r := range rec.requests {
		if method, code, _ := strings.Cut(r, " "); code != "error" {
			answered = append(answered, method)
		}
	}
	if diff := cmp.Diff(logged, answered); diff != "" {
		t.Errorf("requests the Observer heard of (-logged +observed):\n%s\nobserved: %q", diff, rec.requests)
	}
	if got.Requests != len(logged) {
		t.Errorf("Requests = %d, the registry logged %d", got.Requests, len(logged))
	}
}
