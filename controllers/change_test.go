package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// appImage is a small image on a two-layer base with an app layer and APP_VERSION.
func appImage(t *testing.T, app, version string) v1.Image {
	cfg := testregistry.RichConfig()
	cfg.Env = append(cfg.Env, "APP_VERSION="+version)
	return testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"base os", "base libs", app}, EmptyLayersBetween: true, Config: cfg})
}

func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// layerRef is layer i of img as a change report names it, with createdBy.
func layerRef(t *testing.T, img v1.Image, i int, createdBy string) imagesv1alpha1.LayerRef {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	diffID, err := layers[i].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[i].Digest()
	if err != nil {
		t.Fatal(err)
	}
	size, err := layers[i].Size()
	if err != nil {
		t.Fatal(err)
	}
	return imagesv1alpha1.LayerRef{DiffID: diffID.String(), Digest: digest.String(), Size: size, CreatedBy: createdBy}
}

func digestChangedNotes(h *harness, obj *imagesv1alpha1.ImageConfig) []string {
	var notes []string
	for _, e := range h.rec.of(obj) {
		if e.reason == imagesv1alpha1.DigestChangedEvent {
			notes = append(notes, e.eventType+" "+e.note)
		}
	}
	return notes
}

// TestResearch covers what researchers read: change reports on moved tags, and the export.
func TestResearch(t *testing.T) {
	env := controlPlane.Get(t)

	t.Run("a moved tag reports what changed", func(t *testing.T) {
		h := newHarness(t, env)
		before, after := appImage(t, "app v1", "1"), appImage(t, "app v2, larger", "2")
		d1 := h.reg.PushImage(t, "research/app", "1", before).String()
		obj := h.create("mover", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Repository, s.Tag, s.Platform = "research/app", "1", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}
		})
		if _, err, got := h.reconcile(obj); err != nil || got.Status.LastChange != nil {
			t.Fatalf("first resolution: err %v, lastChange %+v (a first resolution is not a move)", err, got.Status.LastChange)
		}

		d2 := h.reg.PushImage(t, "research/app", "1", after).String()
		h.forceRecheck(obj, "1")
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		lc := got.Status.LastChange
		wantLine := "tag 1 moved " + compare.ShortDigest(d1) + " → " + compare.ShortDigest(d2) + ": base unchanged, 1 layer replaced (+8 B), env APP_VERSION 1 → 2"
		// The base's two layers kept, the app's layer replaced by a larger one,
		// and APP_VERSION: nothing else changed.
		kept0, kept1 := layerRef(t, before, 0, ""), layerRef(t, before, 1, "")
		want := &imagesv1alpha1.ImageChange{From: d1, To: d2, Summary: wantLine, Change: &imagesv1alpha1.ImageChangeDetails{
			Digest:         &imagesv1alpha1.StringChange{Before: d1, After: d2},
			ManifestDigest: &imagesv1alpha1.StringChange{Before: d1, After: d2},
			ConfigDigest:   &imagesv1alpha1.StringChange{Before: configDigest(t, before), After: configDigest(t, after)},
			Env:            &imagesv1alpha1.MapChange{Changed: []imagesv1alpha1.KeyChange{{Key: "APP_VERSION", Before: "1", After: "2"}}},
			Layers: &imagesv1alpha1.LayerChange{Kind: compare.LayersTailReplaced, KeptCount: 2, KeptSize: kept0.Size + kept1.Size,
				Removed: []imagesv1alpha1.LayerRef{layerRef(t, before, 2, "RUN app v1")}, Added: []imagesv1alpha1.LayerRef{layerRef(t, after, 2, "RUN app v2, larger")},
				SizeChange: 8},
		}}
		if diff := cmp.Diff(want, lc, cmpopts.IgnoreFields(imagesv1alpha1.ImageChange{}, "Time")); diff != "" {
			t.Fatalf("lastChange (-want +got):\n%s", diff)
		}
		if lc.Time.IsZero() {
			t.Errorf("lastChange.time is not set")
		}
		if diff := cmp.Diff([]string{"Normal " + wantLine}, digestChangedNotes(h, obj)); diff != "" {
			t.Errorf("DigestChanged events (-want +got):\n%s", diff)
		}

		// An unchanged re-check never touches lastChange, nor emits an event.
		time.Sleep(1100 * time.Millisecond)
		h.forceRecheck(obj, "2")
		if _, err, again := h.reconcile(obj); err != nil {
			t.Errorf("unchanged re-check: %v", err)
		} else if diff := cmp.Diff(lc, again.Status.LastChange); diff != "" {
			t.Errorf("unchanged re-check changed lastChange (-before +after):\n%s", diff)
		}
		if n := len(digestChangedNotes(h, obj)); n != 1 {
			t.Errorf("%d DigestChanged events after an unchanged re-check, want 1", n)
		}
	})

	t.Run("a config cut to fit the object reports only what changed", func(t *testing.T) {
		h := newHarness(t, env)
		image := func(version string) v1.Image {
			cfg := testregistry.RichConfig()
			cfg.Env = nil
			for i := range imagesv1alpha1.MaxEnv + 44 {
				cfg.Env = append(cfg.Env, fmt.Sprintf("VAR_%03d=x", i))
			}
			cfg.Env[0] = "APP_VERSION=" + version
			return testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"base", "app " + version}, Config: cfg})
		}
		h.reg.PushImage(t, "research/wide", "1", image("1"))
		obj := h.create("wide", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Repository, s.Tag, s.Platform = "research/wide", "1", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}
		})
		if _, err, got := h.reconcile(obj); err != nil || len(got.Status.Config.Env) != imagesv1alpha1.MaxEnv {
			t.Fatalf("first resolution: err %v, %d env entries, want %d (cut to fit)", err, len(got.Status.Config.Env), imagesv1alpha1.MaxEnv)
		}
		h.reg.PushImage(t, "research/wide", "1", image("2"))
		h.forceRecheck(obj, "1")
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		lc := got.Status.LastChange
		if lc == nil || lc.Change == nil {
			t.Fatalf("lastChange = %+v, want a change", lc)
		}
		if diff := cmp.Diff(&imagesv1alpha1.MapChange{Changed: []imagesv1alpha1.KeyChange{{Key: "APP_VERSION", Before: "1", After: "2"}}}, lc.Change.Env); diff != "" {
			t.Errorf("env, want APP_VERSION 1 → 2 only, not the entries the status cut (-want +got):\n%s", diff)
		}
	})

	t.Run("export", func(t *testing.T) { testExport(t, env) })

	t.Run("a new spec is not a move, even after a failed or suspended edit", func(t *testing.T) {
		h := newHarness(t, env)
		h.reg.PushImage(t, "research/one", "1", appImage(t, "one", "1"))
		h.reg.PushImage(t, "research/two", "1", appImage(t, "two", "2"))
		obj := h.create("respec", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Repository, s.Tag, s.Platform = "research/one", "1", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}
		})
		_, _, first := h.reconcile(obj)

		// An edit to a reference that fails leaves imageRef and digest as they were, together.
		h.update(obj, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Repository = "research/missing" })
		// (requestedImageRef follows the spec.)
		_, _, failed := h.reconcile(obj)
		if diff := cmp.Diff(resolvedStatus(first.Status), resolvedStatus(failed.Status),
			cmpopts.IgnoreFields(imagesv1alpha1.ImageConfigStatus{}, "RequestedImageRef")); diff != "" {
			t.Errorf("failed edit: want the last resolution as it was (-first +got):\n%s", diff)
		}
		// A suspended edit changes nothing either.
		h.update(obj, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Repository, o.Spec.Suspend = "research/two", true })
		_, _, _ = h.reconcile(obj)
		h.update(obj, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Suspend = false })
		_, err, got := h.reconcile(obj)
		if err != nil || got.Status.ImageRef != h.reg.Host()+"/research/two:1" {
			t.Fatalf("err %v, imageRef %s", err, got.Status.ImageRef)
		}
		if notes := digestChangedNotes(h, obj); len(notes) != 0 || got.Status.LastChange != nil {
			t.Errorf("another reference was reported as a move: events %q, lastChange %+v", notes, got.Status.LastChange)
		}
	})
}
