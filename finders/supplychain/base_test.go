package supplychain_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

const baseRepo = "lib/base"

// platformImage builds an image of arch ("amd64" or "arm64") with layers.
func platformImage(t *testing.T, arch string, layers ...string) v1.Image {
	t.Helper()
	spec := testregistry.ImageSpec{Architecture: arch, Layers: layers}
	if arch == "arm64" {
		spec.Variant = "v8"
	}
	return testregistry.Image(t, spec)
}

// withBase annotates img's manifest with the base image annotations.
func withBase(img v1.Image, name, digest string) v1.Image {
	a := map[string]string{manifests.BaseNameAnnotation: name}
	if digest != "" {
		a[manifests.BaseDigestAnnotation] = digest
	}
	return mutate.Annotations(img, a).(v1.Image)
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// resolveApp pushes app as team/app:v1 and resolves it for platform.
func resolveApp(t *testing.T, reg *testregistry.Registry, app v1.Image, platform string) *manifests.Result {
	t.Helper()
	reg.PushImage(t, appRepo, "v1", app)
	o := registryOptions(reg, appRepo)
	o.Tag = "v1"
	if platform != "" {
		p, err := platforms.Parse(platform)
		if err != nil {
			t.Fatal(err)
		}
		o.Platform = p
	}
	res, err := manifests.Resolve(context.Background(), o)
	if err != nil {
		t.Fatalf("resolving the app: %v", err)
	}
	return res
}

func TestCheckBase(t *testing.T) {
	ctx := context.Background()
	type setup struct {
		reg  *testregistry.Registry
		name string // the base's name, reg.Host()/lib/base:1
	}
	// pushBase pushes base (an image or an index) as lib/base:1 and returns
	// its digest and the digests of its amd64 and arm64 manifests.
	pushIndex := func(t *testing.T, s setup, os, arm []string) (index, amd, arm64 string) {
		amdImg, armImg := platformImage(t, "amd64", os...), platformImage(t, "arm64", arm...)
		idx := testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: amdImg}, testregistry.IndexEntry{Image: armImg})
		return s.reg.PushIndex(t, baseRepo, "1", idx).String(), digestOf(t, amdImg), digestOf(t, armImg)
	}
	tests := []struct {
		name string
		// run pushes the base and the app, may move the base, and returns the
		// image, the options and the check wanted.
		run func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck)
	}{
		{"annotations, single-platform base, current", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1")).String()
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, b), "")
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: b, CurrentDigest: b}
		}},
		{"annotations, single-platform base, moved", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1")).String()
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, b), "")
			moved := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-2")).String()
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: b, CurrentDigest: moved,
				Outdated: true, Reason: supplychain.ReasonBaseMoved,
				Message: fmt.Sprintf("base %s moved: the image was built on %s, the tag now points to %s", s.name, b, moved)}
		}},
		{"annotations, multi-arch base, index digest recorded", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			idx, amd, _ := pushIndex(t, s, []string{"os-1"}, []string{"os-1 arm"})
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, idx), "")
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: idx, CurrentDigest: amd}
		}},
		{"annotations, multi-arch base, platform manifest digest recorded", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			_, amd, _ := pushIndex(t, s, []string{"os-1"}, []string{"os-1 arm"})
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, amd), "")
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: amd, CurrentDigest: amd}
		}},
		{"annotations, multi-arch base, arm64 image gets the arm64 manifest", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			_, _, arm := pushIndex(t, s, []string{"os-1"}, []string{"os-1 arm"})
			img := resolveApp(t, s.reg, withBase(platformImage(t, "arm64", "os-1 arm", "app"), s.name, arm), "linux/arm64/v8")
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: arm, CurrentDigest: arm}
		}},
		{"annotations, multi-arch base moved", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			idx, _, _ := pushIndex(t, s, []string{"os-1"}, []string{"os-1 arm"})
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, idx), "")
			idx2, amd2, _ := pushIndex(t, s, []string{"os-2"}, []string{"os-2 arm"})
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name, Digest: idx, CurrentDigest: amd2,
				Outdated: true, Reason: supplychain.ReasonBaseMoved,
				Message: fmt.Sprintf("base %s moved: the image was built on %s, the tag now points to %s (platform linux/amd64 of index %s)", s.name, idx, amd2, idx2)}
		}},
		{"ref, layers start with the base's", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			_, amd, _ := pushIndex(t, s, []string{"os-1", "libs-1"}, []string{"os-1 arm"})
			img := resolveApp(t, s.reg, platformImage(t, "amd64", "os-1", "libs-1", "app"), "")
			return img, supplychain.BaseOptions{Ref: s.name}, &supplychain.BaseCheck{Name: s.name, CurrentDigest: amd}
		}},
		{"ref, no layer shared: base not in layers", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-2")).String()
			img := resolveApp(t, s.reg, platformImage(t, "amd64", "os-1", "app"), "")
			return img, supplychain.BaseOptions{Ref: s.name}, &supplychain.BaseCheck{Name: s.name, CurrentDigest: b,
				Outdated: true, Reason: supplychain.ReasonBaseNotInLayers,
				Message: fmt.Sprintf("base not found in layers: the image's layers do not start with the 1 layers of %s (%s); it was built on an older base whose layers all changed, or on another base", s.name, b)}
		}},
		{"ref, lower layers shared: rebuilt on an older base", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1", "libs-2")).String()
			img := resolveApp(t, s.reg, platformImage(t, "amd64", "os-1", "libs-1", "app"), "")
			return img, supplychain.BaseOptions{Ref: s.name}, &supplychain.BaseCheck{Name: s.name, CurrentDigest: b,
				Outdated: true, Reason: supplychain.ReasonRebuiltOnOlderBase,
				Message: fmt.Sprintf("rebuilt on an older base: the image shares the lowest 1 of the 2 layers of %s (%s) and not the others", s.name, b)}
		}},
		{"ref, recorded older base digest is a prefix: rebuilt on an older base", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			old := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1")).String()
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, old), "")
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-2")).String()
			return img, supplychain.BaseOptions{Ref: s.name}, &supplychain.BaseCheck{Name: s.name, CurrentDigest: b,
				Outdated: true, Reason: supplychain.ReasonRebuiltOnOlderBase,
				Message: fmt.Sprintf("rebuilt on an older base: the image's layers start with those of %s@%s, recorded in its annotations; %s now points to %s", s.name, old, s.name, b)}
		}},
		{"ref, recorded base digest deleted: the layers decide", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			gone := "sha256:" + strings.Repeat("0", 64)
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name, gone), "")
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-2")).String()
			return img, supplychain.BaseOptions{Ref: s.name}, &supplychain.BaseCheck{Name: s.name, CurrentDigest: b,
				Outdated: true, Reason: supplychain.ReasonBaseNotInLayers,
				Message: fmt.Sprintf("base not found in layers: the image's layers do not start with the 1 layers of %s (%s); it was built on an older base whose layers all changed, or on another base", s.name, b)}
		}},
		{"annotations name a tag and a digest: the tag is checked", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			b := s.reg.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1")).String()
			img := resolveApp(t, s.reg, withBase(platformImage(t, "amd64", "os-1", "app"), s.name+"@"+b, b), "")
			return img, supplychain.BaseOptions{}, &supplychain.BaseCheck{Name: s.name + "@" + b, Digest: b, CurrentDigest: b}
		}},
		{"no base known", func(t *testing.T, s setup) (*manifests.Result, supplychain.BaseOptions, *supplychain.BaseCheck) {
			return resolveApp(t, s.reg, platformImage(t, "amd64", "app"), ""), supplychain.BaseOptions{}, nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			s := setup{reg: reg, name: reg.Host() + "/" + baseRepo + ":1"}
			img, o, want := tc.run(t, s)
			o.Registry = registryOptions(reg, "")
			got, err := supplychain.CheckBase(ctx, img, o)
			if err != nil {
				t.Fatalf("CheckBase: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CheckBase (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckBaseBadInput: names that do not parse, name no tag, or name a
// denied host are typed errors, returned before any request.
func TestCheckBaseBadInput(t *testing.T) {
	denyAll, err := netpolicy.Parse("registry.example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		base    string
		ref     string
		network *netpolicy.Policy
		reason  manifests.Reason
		msg     string
	}{
		{name: "annotation does not parse", base: "Not A/Reference::!", reason: manifests.InvalidReference, msg: `"Not A/Reference::!" is invalid`},
		{name: "ref does not parse", ref: "UPPER/case:1", reason: manifests.InvalidReference, msg: `"UPPER/case:1" is invalid`},
		{name: "digest only", base: "debian@sha256:" + strings.Repeat("a", 64), reason: manifests.InvalidReference, msg: "names no tag"},
		{name: "denied host", base: "{host}/lib/base:1", network: denyAll, reason: manifests.RegistryNotAllowed, msg: "is not in --allowed-registries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			img := &manifests.Result{Summary: manifests.Summary{Platform: "linux/amd64",
				BaseImage: &manifests.BaseImage{Name: strings.ReplaceAll(tc.base, "{host}", reg.Host()), Digest: "sha256:" + strings.Repeat("b", 64)}}}
			o := supplychain.BaseOptions{Ref: tc.ref, Registry: registryOptions(reg, "")}
			o.Registry.Network.Policy = tc.network
			_, err := supplychain.CheckBase(context.Background(), img, o)
			var merr *manifests.Error
			if !errors.As(err, &merr) || merr.Reason != tc.reason || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want a %s error containing %q", err, tc.reason, tc.msg)
			}
			if n := len(reg.Log().Requests()); n != 0 {
				t.Errorf("%d requests were made, want none:\n%s", n, reg.Log())
			}
		})
	}
}

// TestCheckBaseSharedHEADs: 100 images on 10 apps over 2 base tags, checked
// through one shared resolver. After the head window, an unchanged re-check of
// all 100 costs 2 base HEADs (one per tag) and no GET; moving one tag flips
// exactly the images built on it.
func TestCheckBaseSharedHEADs(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.New(t, testregistry.Options{})
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	shared := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(16 << 20), Now: clock.Now})

	bases := map[string]string{} // tag -> digest
	for _, tag := range []string{"a", "b"} {
		bases[tag] = reg.PushImage(t, baseRepo, tag, platformImage(t, "amd64", "os-"+tag)).String()
	}
	type object struct {
		img *manifests.Result
		tag string
	}
	var objects []object
	for app := range 10 {
		tag := []string{"a", "b"}[app%2]
		name := reg.Host() + "/" + baseRepo + ":" + tag
		img := resolveApp(t, reg, withBase(platformImage(t, "amd64", "os-"+tag, fmt.Sprint("app ", app)), name, bases[tag]), "")
		for range 10 { // 10 objects per app
			objects = append(objects, object{img: img, tag: tag})
		}
	}
	o := supplychain.BaseOptions{Resolve: shared.Resolve, Registry: registryOptions(reg, "")}
	o.Registry.Cache.HeadWindow = time.Minute
	checkAll := func() map[string]int {
		outdated := map[string]int{}
		for _, obj := range objects {
			c, err := supplychain.CheckBase(ctx, obj.img, o)
			if err != nil {
				t.Fatalf("CheckBase: %v", err)
			}
			if c.Outdated {
				outdated[obj.tag]++
			}
		}
		return outdated
	}
	if got := checkAll(); len(got) != 0 {
		t.Fatalf("first pass: outdated %v, want none", got)
	}
	baseRequests := func(method string) int { return reg.Log().CountPrefix(method, "/v2/"+baseRepo+"/") }

	clock.Step(2 * time.Minute) // the next interval: past the head window
	reg.Log().Reset()
	if got := checkAll(); len(got) != 0 {
		t.Fatalf("unchanged re-check: outdated %v, want none", got)
	}
	if heads, gets := baseRequests(http.MethodHead), baseRequests(http.MethodGet); heads != 2 || gets != 0 {
		t.Errorf("unchanged re-check of 100 images over 2 base tags: %d HEADs and %d GETs, want 2 and 0:\n%s", heads, gets, reg.Log())
	}

	reg.PushImage(t, baseRepo, "a", platformImage(t, "amd64", "os-a patched"))
	clock.Step(2 * time.Minute)
	reg.Log().Reset()
	if diff := cmp.Diff(map[string]int{"a": 50}, checkAll()); diff != "" {
		t.Errorf("after moving base:a, outdated per tag (-want +got):\n%s", diff)
	}
	t.Logf("after the move: %d base HEADs, %d base GETs", baseRequests(http.MethodHead), baseRequests(http.MethodGet))
}

// TestCheckBaseOtherCredentials: the base lives on another registry that needs
// its own credentials. They are the ones in BaseOptions.Registry; without them
// the check fails as Unauthorized, and the image's registry is not asked.
func TestCheckBaseOtherCredentials(t *testing.T) {
	ctx := context.Background()
	images := testregistry.New(t, testregistry.Options{})
	bases := testregistry.New(t, testregistry.Options{TokenAuth: true})
	bases.RequireBasic("base-user", "base-pass")
	b := bases.PushImage(t, baseRepo, "1", platformImage(t, "amd64", "os-1")).String()
	img := resolveApp(t, images, withBase(platformImage(t, "amd64", "os-1", "app"), bases.Host()+"/"+baseRepo+":1", b), "")
	images.Log().Reset()

	tests := []struct {
		name   string
		auth   authn.Authenticator
		reason manifests.Reason
	}{
		{"the base registry's credentials", &authn.Basic{Username: "base-user", Password: "base-pass"}, ""},
		{"no credentials", nil, manifests.Unauthorized},
		{"the image's credentials", &authn.Basic{Username: "image-user", Password: "image-pass"}, manifests.Unauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := supplychain.BaseOptions{Registry: manifests.Options{Network: manifests.Network{Insecure: true, Transport: bases.Transport()}, Auth: manifests.Auth{Authenticator: tc.auth}}}
			got, err := supplychain.CheckBase(ctx, img, o)
			if tc.reason == "" {
				if err != nil || got.Outdated || got.CurrentDigest != b {
					t.Errorf("CheckBase = %+v, %v; want current %s", got, err, b)
				}
				return
			}
			if manifests.ReasonOf(err) != tc.reason {
				t.Errorf("err = %v, want %s", err, tc.reason)
			}
		})
	}
	if n := len(images.Log().Requests()); n != 0 {
		t.Errorf("the image's registry got %d requests, want none:\n%s", n, images.Log())
	}
}
