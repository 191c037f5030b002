package controllers

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// TestStatusChanged: the semantic fast path and the merge patch agree on what
// is a change.
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
		{name: "the digest", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Digest = "sha256:ff" }},
		{name: "a condition's reason", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Conditions[0].Reason = "Other" }},
		{name: "observedGeneration", want: true, change: func(o *imagesv1alpha1.ImageConfig) { o.Status.ObservedGeneration++ }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := resolvedObject(now)
			obj := base.DeepCopy()
			tt.change(obj)
			got, err := statusChanged(base, obj)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("statusChanged = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			// A change is written with base's resourceVersion, so that a stale
			// base conflicts instead of leaving out what it did not see.
			data, err := statusPatch(base, obj)
			if err != nil {
				t.Fatal(err)
			}
			var patch struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
				Status map[string]any `json:"status"`
			}
			if err := json.Unmarshal(data, &patch); err != nil {
				t.Fatal(err)
			}
			if patch.Metadata.ResourceVersion != base.ResourceVersion || len(patch.Status) == 0 {
				t.Errorf("patch %s: want resourceVersion %q and a status", data, base.ResourceVersion)
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
		if changed, err := statusChanged(base, obj); err != nil || changed {
			b.Fatal(changed, err)
		}
	}
}
