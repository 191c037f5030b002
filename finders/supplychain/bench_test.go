package supplychain_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// BenchmarkListReferrers10000 lists a subject whose fallback tag index has
// 10,000 entries (30 of them real): the figures are the bytes read of the
// responses, the registry requests and the allocations per listing.
func BenchmarkListReferrers10000(b *testing.B) {
	reg := testregistry.New(b, testregistry.Options{NoReferrersAPI: true})
	img := testregistry.Image(b, testregistry.ImageSpec{Layers: []string{"app"}})
	d := reg.PushImage(b, appRepo, "v1", img)
	subject := testregistry.DescriptorOf(b, img)
	var real []v1.Descriptor
	for i := range 30 {
		ref := testregistry.SBOMReferrer(b, subject, map[string]string{"n": fmt.Sprint(i)})
		reg.PushImage(b, appRepo, "", ref)
		real = append(real, testregistry.DescriptorOf(b, ref))
	}
	body := bigIndex(b, real, 10_000)
	reg.PushRaw(b, appRepo, testregistry.CosignTag(d, ""), string(types.OCIImageIndex), body)
	counter := &bodyCounter{inner: reg.Transport()}
	o := manifests.Options{Registry: reg.Host(), Repository: appRepo, Network: manifests.Network{Insecure: true, Transport: counter}}
	var requests int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		got, err := supplychain.ListReferrers(context.Background(), supplychain.ReferrersOptions{Registry: o, Subjects: []string{d.String()}})
		if err != nil || !got.Truncated {
			b.Fatalf("ListReferrers: %v, truncated %v", err, got != nil && got.Truncated)
		}
		requests += got.Requests
	}
	b.ReportMetric(float64(counter.n.Load())/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(len(body)), "index-bytes")
}

// BenchmarkCheckBaseShared re-checks 100 images on 10 apps over 2 base tags
// through one shared resolver, once per interval: the figure is the base
// requests per interval.
func BenchmarkCheckBaseShared(b *testing.B) {
	ctx := context.Background()
	reg := testregistry.New(b, testregistry.Options{})
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	shared := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(16 << 20), Now: clock.Now})
	var images []*manifests.Result
	for app := range 10 {
		tag := []string{"a", "b"}[app%2]
		base := reg.PushImage(b, baseRepo, tag, testregistry.Image(b, testregistry.ImageSpec{Layers: []string{"os-" + tag}})).String()
		appImg := withBase(testregistry.Image(b, testregistry.ImageSpec{Layers: []string{"os-" + tag, fmt.Sprint("app ", app)}}), reg.Host()+"/"+baseRepo+":"+tag, base)
		reg.PushImage(b, appRepo, "v1", appImg)
		o := manifests.Options{Registry: reg.Host(), Repository: appRepo, Tag: "v1", Network: manifests.Network{Insecure: true, Transport: reg.Transport()}}
		res, err := manifests.Resolve(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		for range 10 {
			images = append(images, res)
		}
	}
	o := supplychain.BaseOptions{Resolve: shared.Resolve,
		Registry: manifests.Options{Network: manifests.Network{Insecure: true, Transport: reg.Transport()}, Cache: manifests.Cache{HeadWindow: time.Minute}}}
	reg.Log().Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clock.Step(2 * time.Minute)
		for _, img := range images {
			if _, err := supplychain.CheckBase(ctx, img, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	// The first interval fetches each base once (GET index or manifest, config); the others HEAD.
	b.ReportMetric(float64(reg.Log().CountPrefix(http.MethodHead, "/v2/"+baseRepo+"/"))/float64(b.N), "base-HEADs/interval")
	b.ReportMetric(float64(reg.Log().CountPrefix(http.MethodGet, "/v2/"+baseRepo+"/"))/float64(b.N), "base-GETs/interval")
}

// BenchmarkListReferrersTwoPlatforms lists a two-platform tag with nothing
// attached (as in make bench-scale) on a registry with token authentication,
// with and without the referrers API: with no session cache (the CLI, and the
// manager before issue 19's listings shared the resolution's session: a
// handshake per listing) and with the session the resolution left in the
// manager's cache. The figures are the registry's requests per listing:
// handshake (pings and tokens), HEADs and the other GETs.
func BenchmarkListReferrersTwoPlatforms(b *testing.B) {
	for _, api := range []bool{true, false} {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("api=%v/session=%v", api, warm), func(b *testing.B) {
				reg := testregistry.New(b, testregistry.Options{TokenAuth: true, NoReferrersAPI: !api})
				amd := testregistry.Image(b, testregistry.ImageSpec{Layers: []string{"amd64"}})
				arm := testregistry.Image(b, testregistry.ImageSpec{Architecture: "arm64", Layers: []string{"arm64"}})
				reg.PushIndex(b, appRepo, "v1", testregistry.Index(b, types.OCIImageIndex, testregistry.IndexEntry{Image: amd}, testregistry.IndexEntry{Image: arm}))
				o := manifests.Options{Registry: reg.Host(), Repository: appRepo, Tag: "v1", Network: manifests.Network{Insecure: true, Transport: reg.Transport()}}
				if warm {
					o.Cache.Sessions = manifests.NewSessions(time.Hour, 10)
				}
				res, err := manifests.Resolve(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				ro := supplychain.ReferrersOptions{Registry: o, Subjects: []string{res.ManifestDigest, res.Digest}, Index: res.RawIndex}
				reg.Log().Reset()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := supplychain.ListReferrers(context.Background(), ro); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				c := reg.Log().Counts()
				n := float64(b.N)
				b.ReportMetric(float64(len(reg.Log().Requests()))/n, "requests/op")
				b.ReportMetric(float64(c.Pings+c.Tokens)/n, "handshake/op")
				b.ReportMetric(float64(c.ManifestHEADs)/n, "HEADs/op")
				gets := reg.Log().CountFunc(func(r testregistry.Request) bool { return r.Method == http.MethodGet })
				b.ReportMetric(float64(gets-c.Pings-c.Tokens)/n, "GETs/op")
			})
		}
	}
}
