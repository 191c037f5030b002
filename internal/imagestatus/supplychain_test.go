package imagestatus

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
)

const (
	baseOld = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	baseNew = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	baseNxt = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	baseTag = "docker.io/library/debian:bookworm"
)

// resolvedObject is a Ready object whose image declares baseTag at baseOld.
func resolvedObject() *imagesv1alpha1.ImageConfig {
	obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", Generation: 2}}
	MarkReady(obj, "Resolved")
	obj.Status.BaseImage = &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld}
	return obj
}

func TestApplyBase(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	declared := &manifests.BaseImage{Name: baseTag, Digest: baseOld}
	current := &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseOld}
	moved := &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew, Outdated: true, Reason: supplychain.ReasonBaseMoved,
		Message: "Base " + baseTag + " moved from " + baseOld + " to " + baseNew}
	movedAgain := &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseNxt, Outdated: true, Reason: supplychain.ReasonBaseMoved,
		Message: "Base " + baseTag + " moved from " + baseOld + " to " + baseNxt}
	byRef := &supplychain.BaseCheck{Name: baseTag, CurrentDigest: baseNew, Outdated: true, Reason: supplychain.ReasonBaseNotInLayers, Message: "base not found in layers"}
	invalid := &manifests.Error{Reason: manifests.InvalidReference, Err: errors.New(`base image "Not A Ref" does not parse`)}
	denied := &manifests.Error{Reason: manifests.RegistryNotAllowed, Err: errors.New("registry evil.example is not in --allowed-registries")}
	policyDenied := &netpolicy.NotAllowedError{Host: "evil.example:5000", Flag: netpolicy.AllowedRegistriesFlag}
	outage := &manifests.Error{Reason: manifests.Unavailable, Err: errors.New("503 Service Unavailable")}

	type cond struct {
		Status  metav1.ConditionStatus
		Reason  string
		Message string
	}
	tests := []struct {
		name     string
		before   func(*imagesv1alpha1.ImageConfig) // steps applied first, at t0
		declared *manifests.BaseImage
		check    *supplychain.BaseCheck
		err      error
		want     *cond // nil: the condition is absent
		wantBase *imagesv1alpha1.BaseImageStatus
	}{
		{
			name: "no base known: no condition, no baseImage", declared: nil,
			before: func(o *imagesv1alpha1.ImageConfig) { ApplyBase(o, declared, moved, nil, t0) },
			want:   nil, wantBase: nil,
		},
		{
			name: "current base: False", declared: declared, check: current,
			want:     &cond{metav1.ConditionFalse, imagesv1alpha1.BaseCurrentReason, "Built on the current image of " + baseTag + " (" + baseOld + ")"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseOld},
		},
		{
			name: "moved: True with both digests and the time first seen", declared: declared, check: moved,
			want:     &cond{metav1.ConditionTrue, imagesv1alpha1.BaseMovedReason, moved.Message + "; first seen 2026-12-04T11:00:00Z"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew},
		},
		{
			name: "the same move seen again keeps its first-seen time", declared: declared, check: moved,
			before:   func(o *imagesv1alpha1.ImageConfig) { ApplyBase(o, declared, moved, nil, t0) },
			want:     &cond{metav1.ConditionTrue, imagesv1alpha1.BaseMovedReason, moved.Message + "; first seen 2026-12-04T10:00:00Z"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew},
		},
		{
			name: "a second move is a new first-seen time", declared: declared, check: movedAgain,
			before:   func(o *imagesv1alpha1.ImageConfig) { ApplyBase(o, declared, moved, nil, t0) },
			want:     &cond{metav1.ConditionTrue, imagesv1alpha1.BaseMovedReason, movedAgain.Message + "; first seen 2026-12-04T11:00:00Z"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNxt},
		},
		{
			name: "rebuilt on the current base: back to False", declared: declared, check: current,
			before:   func(o *imagesv1alpha1.ImageConfig) { ApplyBase(o, declared, moved, nil, t0) },
			want:     &cond{metav1.ConditionFalse, imagesv1alpha1.BaseCurrentReason, "Built on the current image of " + baseTag + " (" + baseOld + ")"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseOld},
		},
		{
			name: "named by spec.baseImage.ref, not in the layers", check: byRef,
			want:     &cond{metav1.ConditionTrue, imagesv1alpha1.BaseNotInLayersReason, "base not found in layers; first seen 2026-12-04T11:00:00Z"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, CurrentDigest: baseNew},
		},
		{
			name: "a base name that does not parse: Unknown, InvalidBaseReference", declared: declared, err: invalid,
			want:     &cond{metav1.ConditionUnknown, imagesv1alpha1.InvalidBaseReferenceReason, "The base image cannot be checked: " + invalid.Error()},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld},
		},
		{
			name: "a denied registry: Unknown, BaseRegistryNotAllowed", declared: declared, err: fmt.Errorf("checking the base: %w", denied),
			want:     &cond{metav1.ConditionUnknown, imagesv1alpha1.BaseRegistryNotAllowedReason, "The base image cannot be checked: checking the base: " + denied.Error()},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld},
		},
		{
			name: "a host the network policy refuses, unwrapped: Unknown, BaseRegistryNotAllowed", declared: declared, err: fmt.Errorf("base: %w", policyDenied),
			want:     &cond{metav1.ConditionUnknown, imagesv1alpha1.BaseRegistryNotAllowedReason, "The base image cannot be checked: base: " + policyDenied.Error()},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld},
		},
		{
			name: "an outage keeps the last verdict and current digest", declared: declared, err: outage,
			before:   func(o *imagesv1alpha1.ImageConfig) { ApplyBase(o, declared, moved, nil, t0) },
			want:     &cond{metav1.ConditionTrue, imagesv1alpha1.BaseMovedReason, moved.Message + "; first seen 2026-12-04T10:00:00Z"},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew},
		},
		{
			name: "an outage before any verdict: Unknown, BaseCheckFailed", declared: declared, err: outage,
			want:     &cond{metav1.ConditionUnknown, imagesv1alpha1.BaseCheckFailedReason, "The base image could not be checked: " + outage.Error()},
			wantBase: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := resolvedObject()
			if tt.before != nil {
				tt.before(obj)
			}
			ready := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ReadyCondition).DeepCopy()
			ApplyBase(obj, tt.declared, tt.check, tt.err, t1)

			var got *cond
			if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition); c != nil {
				got = &cond{c.Status, c.Reason, c.Message}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("BaseImageOutdated (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBase, obj.Status.BaseImage); diff != "" {
				t.Errorf("status.baseImage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ready, apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ReadyCondition)); diff != "" {
				t.Errorf("Ready changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestApplyBaseBoundsHostileValues: names from an image's annotations are cut
// to the CRD's bounds, so that the status write is never refused.
func TestApplyBaseBoundsHostileValues(t *testing.T) {
	obj := resolvedObject()
	long := strings.Repeat("é", 5000)
	ApplyBase(obj, nil, &supplychain.BaseCheck{Name: long, Digest: long, CurrentDigest: long, Outdated: true, Message: long}, nil, time.Now())
	b := obj.Status.BaseImage
	if len(b.Name) > maxBaseName || len(b.Digest) > maxReferrerDigest || len(b.CurrentDigest) > maxReferrerDigest {
		t.Errorf("baseImage not bounded: name %d, digest %d, currentDigest %d bytes", len(b.Name), len(b.Digest), len(b.CurrentDigest))
	}
	c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
	if len(c.Message) > maxBaseMessage+64 || !strings.Contains(c.Message, "; first seen ") {
		t.Errorf("message of %d bytes, want at most %d with the first-seen time: %.80q…", len(c.Message), maxBaseMessage+64, c.Message)
	}
}

func TestBaseMoved(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	declared := &manifests.BaseImage{Name: baseTag, Digest: baseOld}
	check := func(current string) *supplychain.BaseCheck {
		return &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: current, Outdated: current != baseOld}
	}
	at := func(checks ...*supplychain.BaseCheck) *imagesv1alpha1.ImageConfigStatus {
		obj := resolvedObject()
		for _, c := range checks {
			ApplyBase(obj, declared, c, nil, t0)
		}
		return &obj.Status
	}
	tests := []struct {
		name     string
		old, cur *imagesv1alpha1.ImageConfigStatus
		want     bool
	}{
		{"first check finds it current", at(), at(check(baseOld)), false},
		{"first check finds it moved", at(), at(check(baseNew)), true},
		{"current to moved", at(check(baseOld)), at(check(baseNew)), true},
		{"the same move re-checked", at(check(baseNew)), at(check(baseNew)), false},
		{"moved again", at(check(baseNew)), at(check(baseNxt)), true},
		{"moved to current", at(check(baseNew)), at(check(baseOld)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, got := BaseMoved(tt.old, tt.cur)
			if got != tt.want || (got && !strings.Contains(msg, "first seen")) {
				t.Errorf("BaseMoved = %v, %q; want %v", got, msg, tt.want)
			}
		})
	}
}

// TestBaseConditionKeepsKstatus: kstatus (cli-utils, as Flux and Argo CD use
// it) reads a resolved object as Current whatever BaseImageOutdated says, and a
// stalled one as Failed.
func TestBaseConditionKeepsKstatus(t *testing.T) {
	declared := &manifests.BaseImage{Name: baseTag, Digest: baseOld}
	tests := []struct {
		name  string
		check *supplychain.BaseCheck
		err   error
		stall bool
		want  status.Status
	}{
		{name: "outdated", check: &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew, Outdated: true}, want: status.CurrentStatus},
		{name: "current", check: &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseOld}, want: status.CurrentStatus},
		{name: "unknown", err: &manifests.Error{Reason: manifests.InvalidReference, Err: errors.New("bad")}, want: status.CurrentStatus},
		{name: "outdated and stalled", check: &supplychain.BaseCheck{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew, Outdated: true}, stall: true, want: status.FailedStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := resolvedObject()
			obj.Status.ObservedGeneration = obj.Generation
			ApplyBase(obj, declared, tt.check, tt.err, time.Now())
			if tt.stall {
				MarkStalled(obj, imagesv1alpha1.NotFoundReason, "gone")
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: m})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want {
				t.Errorf("kstatus %s (%s), want %s", res.Status, res.Message, tt.want)
			}
		})
	}
}

func TestApplyReferrers(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	digest := "sha256:" + strings.Repeat("a", 64)
	sig := supplychain.Referrer{Digest: baseOld, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Kind: supplychain.KindSignature, Format: "cosign", Source: supplychain.SourceCosignTag,
		Subject: digest, Annotations: map[string]string{"dev.sigstore.cosign/bundle": "{}"}}
	sbom := supplychain.Referrer{Digest: baseNew, ArtifactType: "application/spdx+json", Kind: supplychain.KindSBOM, Format: "spdx", Source: supplychain.SourceReferrersAPI, Subject: digest}
	many := make([]supplychain.Referrer, 25)
	for i := range many {
		many[i] = sbom
	}
	tests := []struct {
		name string
		in   supplychain.Referrers
		want imagesv1alpha1.ReferrersStatus
	}{
		{
			name: "nothing attached: listed, not signed",
			want: imagesv1alpha1.ReferrersStatus{Digest: digest},
		},
		{
			name: "a signature and an SBOM",
			in:   supplychain.Referrers{Entries: []supplychain.Referrer{sig, sbom}},
			want: imagesv1alpha1.ReferrersStatus{Digest: digest, Signed: true, Entries: []imagesv1alpha1.Referrer{
				{Digest: baseOld, ArtifactType: sig.ArtifactType, Kind: "signature", Format: "cosign", Source: "cosignTag"},
				{Digest: baseNew, ArtifactType: sbom.ArtifactType, Kind: "sbom", Format: "spdx", Source: "referrersAPI"},
			}},
		},
		{
			name: "truncated by the finder",
			in:   supplychain.Referrers{Entries: []supplychain.Referrer{sbom}, Truncated: true},
			want: imagesv1alpha1.ReferrersStatus{Digest: digest, Truncated: true, Entries: []imagesv1alpha1.Referrer{
				{Digest: baseNew, ArtifactType: sbom.ArtifactType, Kind: "sbom", Format: "spdx", Source: "referrersAPI"}}},
		},
		{
			name: "more than 20 are cut here too",
			in:   supplychain.Referrers{Entries: many},
			want: imagesv1alpha1.ReferrersStatus{Digest: digest, Truncated: true, Entries: func() []imagesv1alpha1.Referrer {
				out := make([]imagesv1alpha1.Referrer, imagesv1alpha1.MaxReferrers)
				for i := range out {
					out[i] = imagesv1alpha1.Referrer{Digest: baseNew, ArtifactType: sbom.ArtifactType, Kind: "sbom", Format: "spdx", Source: "referrersAPI"}
				}
				return out
			}()},
		},
		{
			name: "an unknown kind is other, an unknown source is dropped, long values are cut",
			in: supplychain.Referrers{Entries: []supplychain.Referrer{
				{Digest: baseOld, ArtifactType: strings.Repeat("x", 300), Kind: "<script>", Format: strings.Repeat("f", 100), Source: supplychain.SourceIndex},
				{Digest: baseNew, Kind: supplychain.KindSignature, Source: "somewhere"},
			}},
			want: imagesv1alpha1.ReferrersStatus{Digest: digest, Truncated: true, Entries: []imagesv1alpha1.Referrer{
				{Digest: baseOld, ArtifactType: strings.Repeat("x", 256), Kind: "other", Format: strings.Repeat("f", 64), Source: "index"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st imagesv1alpha1.ImageConfigStatus
			ApplyReferrers(&st, digest, &tt.in, now)
			tt.want.LastListedTime = &metav1.Time{Time: now}
			if diff := cmp.Diff(&tt.want, st.Referrers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("status.referrers (-want +got):\n%s", diff)
			}
			if Signed(&st) != tt.want.Signed {
				t.Errorf("Signed = %v, want %v", Signed(&st), tt.want.Signed)
			}
		})
	}
}

// TestBaseSurvivesResolutions: status.baseImage.currentDigest is kept by Apply
// while the image declares the same base tag (an unchanged re-check, or a new
// image on the same base tag), and a base named only by spec.baseImage.ref is
// kept too; Previous gives back only what the image declared.
func TestBaseSurvivesResolutions(t *testing.T) {
	res := func(b *manifests.BaseImage) *manifests.Result {
		return &manifests.Result{Summary: manifests.Summary{Digest: baseNxt, Config: &manifests.BuildConfig{}, BaseImage: b}}
	}
	tests := []struct {
		name     string
		cur      *imagesv1alpha1.BaseImageStatus
		declared *manifests.BaseImage
		want     *imagesv1alpha1.BaseImageStatus
		previous *manifests.BaseImage
	}{
		{
			name: "same base tag: currentDigest kept",
			cur:  &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew}, declared: &manifests.BaseImage{Name: baseTag, Digest: baseNew},
			want: &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseNew, CurrentDigest: baseNew}, previous: &manifests.BaseImage{Name: baseTag, Digest: baseNew},
		},
		{
			name: "another base tag: currentDigest dropped",
			cur:  &imagesv1alpha1.BaseImageStatus{Name: baseTag, Digest: baseOld, CurrentDigest: baseNew}, declared: &manifests.BaseImage{Name: "alpine:3", Digest: baseOld},
			want: &imagesv1alpha1.BaseImageStatus{Name: "alpine:3", Digest: baseOld}, previous: &manifests.BaseImage{Name: "alpine:3", Digest: baseOld},
		},
		{
			name: "named by reference: kept, and not a declared base",
			cur:  &imagesv1alpha1.BaseImageStatus{Name: baseTag, CurrentDigest: baseNew},
			want: &imagesv1alpha1.BaseImageStatus{Name: baseTag, CurrentDigest: baseNew},
		},
		{name: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := imagesv1alpha1.ImageConfigStatus{BaseImage: tt.cur}
			Apply(&st, res(tt.declared), time.Now())
			if diff := cmp.Diff(tt.want, st.BaseImage); diff != "" {
				t.Errorf("status.baseImage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.previous, Previous(&st).BaseImage); diff != "" {
				t.Errorf("Previous().BaseImage (-want +got):\n%s", diff)
			}
		})
	}
}
