package controllers

import (
	"encoding/json"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// TestStatusChanged: what is a change is what changes the stored bytes, and
// the patch of a change makes the stored object's status exactly obj's.
func TestStatusChanged(t *testing.T) {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		change func(*imagesv1alpha1.ImageConfig)
		want   bool
	}{
		{name: "nothing", change: func(*imagesv1alpha1.ImageConfig) {}},
		{name: "a time moved below a second, which JSON does not carry", change: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime = &metav1.Time{Time: now.Add(300 * time.Millisecond)}
		}},
		{name: "the same time in another location", change: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime = &metav1.Time{Time: now.In(time.FixedZone("x", 3600))}
		}},
		{name: "an empty list where there was none", change: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.Conditions = append(o.Status.Conditions[:1:1], []metav1.Condition{}...)
		}},
		{name: "a time moved by a second", want: true, change: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime = &metav1.Time{Time: now.Add(time.Second)}
		}},
		{name: "a condition's time moved by a second", want: true, change: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(time.Second))
		}},
		{name: "the digest", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Digest = "sha256:ff" }},
		{name: "a condition's reason", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Conditions[0].Reason = "Other" }},
		{name: "observedGeneration", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.ObservedGeneration++ }},
		{name: "a field removed", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Digest = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := resolvedObject(now)
			obj := base.DeepCopy()
			tt.change(obj)
			if got := statusChanged(base, obj); got != tt.want {
				t.Errorf("statusChanged = %v, want %v", got, tt.want)
			}
			data, err := statusPatch(base, obj)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want {
				if data != nil {
					t.Errorf("an unchanged status gave the patch %s", data)
				}
				return
			}
			// Applied to the stored object, the patch gives obj's status and
			// base's resourceVersion, so that a stale base conflicts instead
			// of writing a status computed from what it did not see.
			stored := base.DeepCopy()
			stored.ResourceVersion = "7"
			before, err := json.Marshal(stored)
			if err != nil {
				t.Fatal(err)
			}
			p, err := jsonpatch.DecodePatch(data)
			if err != nil {
				t.Fatalf("patch %s: %v", data, err)
			}
			after, err := p.Apply(before)
			if err != nil {
				t.Fatalf("applying %s: %v", data, err)
			}
			var got, want imagesv1alpha1.ImageConfig
			if err := json.Unmarshal(after, &got); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(obj)
			if err := json.Unmarshal(wantJSON, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Status, got.Status); diff != "" {
				t.Errorf("status after the patch (-want +got):\n%s", diff)
			}
			if got.ResourceVersion != base.ResourceVersion {
				t.Errorf("patched resourceVersion %q, want base's %q", got.ResourceVersion, base.ResourceVersion)
			}
		})
	}
}

// BenchmarkStatusChangedUnchanged is the cost of an unchanged re-check's
// comparison, paid by every object on every interval.
func BenchmarkStatusChangedUnchanged(b *testing.B) {
	base := resolvedObject(time.Now())
	for range 20 {
		base.Status.Layers = append(base.Status.Layers, imagesv1alpha1.Layer{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 1 << 20})
	}
	obj := base.DeepCopy()
	b.ReportAllocs()
	for b.Loop() {
		if data, err := statusPatch(base, obj); err != nil || data != nil {
			b.Fatal(string(data), err)
		}
	}
}

// BenchmarkStatusPatchChanged is the cost of building a changed status's
// patch: every first resolution pays it once.
func BenchmarkStatusPatchChanged(b *testing.B) {
	base := resolvedObject(time.Now())
	for range 20 {
		base.Status.Layers = append(base.Status.Layers, imagesv1alpha1.Layer{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 1 << 20})
	}
	obj := base.DeepCopy()
	obj.Status.Digest = "sha256:ff"
	b.ReportAllocs()
	for b.Loop() {
		if data, err := statusPatch(base, obj); err != nil || data == nil {
			b.Fatal(err)
		}
	}
}
