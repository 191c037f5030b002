package controllers

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

func diffIDs(t *testing.T, img v1.Image) []string {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
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
		if lc == nil || lc.From != d1 || lc.To != d2 || lc.Change == nil || lc.Truncated != "" {
			t.Fatalf("lastChange = %+v, want %s → %s", lc, d1, d2)
		}
		wantLine := "tag 1 moved " + compare.ShortDigest(d1) + " → " + compare.ShortDigest(d2) + ": base unchanged, 1 layer replaced (+8 B), env APP_VERSION 1 → 2"
		if notes := digestChangedNotes(h, obj); !slices.Equal(notes, []string{"Normal " + wantLine}) || lc.Summary != wantLine {
			t.Errorf("DigestChanged events %q, summary %q\nwant one Normal %q", notes, lc.Summary, wantLine)
		}
		b, a := diffIDs(t, before), diffIDs(t, after)
		l := lc.Change.Layers
		if l == nil || l.Kind != compare.LayersTailReplaced || l.KeptCount != 2 || len(l.Removed) != 1 || len(l.Added) != 1 ||
			l.Removed[0].DiffID != b[2] || l.Added[0].DiffID != a[2] || l.Added[0].CreatedBy != "RUN app v2, larger" || l.SizeChange != 8 {
			t.Errorf("layers = %+v, want kept 2, removed %s, added %s", l, b[2], a[2])
		}
		if diff := cmp.Diff(&imagesv1alpha1.MapChange{Changed: []imagesv1alpha1.KeyChange{{Key: "APP_VERSION", Before: "1", After: "2"}}}, lc.Change.Env); diff != "" {
			t.Errorf("env, want APP_VERSION 1 → 2 only (-want +got):\n%s", diff)
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
		if _, _, got := h.reconcile(obj); got.Status.ImageRef != first.Status.ImageRef || got.Status.Digest != first.Status.Digest || got.Status.Platform != first.Status.Platform {
			t.Errorf("failed edit: imageRef %s digest %s, want the last resolution's %s %s", got.Status.ImageRef, got.Status.Digest, first.Status.ImageRef, first.Status.Digest)
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
