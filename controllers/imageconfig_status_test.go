package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

func condition(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
		LastTransitionTime: metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
}

func TestTransitionEvents(t *testing.T) {
	const ref = "index.docker.io/library/nginx:1.27"
	readyTrue := condition(imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, "Resolved it", 1)
	unavailable := condition(imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, imagesv1alpha1.UnavailableReason, "503 from registry", 1)
	unavailable2 := condition(imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, imagesv1alpha1.UnavailableReason, "connection refused", 1)
	notFound := condition(imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, imagesv1alpha1.NotFoundReason, "tag not found", 1)
	suspended := condition(imagesv1alpha1.ReadyCondition, metav1.ConditionUnknown, imagesv1alpha1.SuspendedReason, "Suspended", 1)

	type state struct {
		imageRef, digest string
		ready            *metav1.Condition
	}
	tests := []struct {
		name     string
		tag      string
		digest   string
		old, cur state
		want     []transitionEvent
	}{
		{
			name: "tag moved",
			tag:  "1.27",
			old:  state{ref, digestA, &readyTrue},
			cur:  state{ref, digestB, &readyTrue},
			want: []transitionEvent{{"Normal", "DigestChanged", "tag 1.27 moved " + compare.ShortDigest(digestA) + " → " + compare.ShortDigest(digestB) + ": same config fields and layers"}},
		},
		{
			name: "default tag moved",
			old:  state{"index.docker.io/library/nginx:latest", digestA, &readyTrue},
			cur:  state{"index.docker.io/library/nginx:latest", digestB, &readyTrue},
			want: []transitionEvent{{"Normal", "DigestChanged", "tag latest moved " + compare.ShortDigest(digestA) + " → " + compare.ShortDigest(digestB) + ": same config fields and layers"}},
		},
		{
			name: "spec edit changed the reference",
			tag:  "1.28",
			old:  state{ref, digestA, &readyTrue},
			cur:  state{"index.docker.io/library/nginx:1.28", digestB, &readyTrue},
		},
		{
			name: "first resolution",
			tag:  "1.27",
			old:  state{"", "", nil},
			cur:  state{ref, digestA, &readyTrue},
		},
		{
			name: "tag moved while recovering",
			tag:  "1.27",
			old:  state{ref, digestA, &unavailable},
			cur:  state{ref, digestB, &readyTrue},
			want: []transitionEvent{
				{"Normal", "DigestChanged", "tag 1.27 moved " + compare.ShortDigest(digestA) + " → " + compare.ShortDigest(digestB) + ": same config fields and layers"},
				{"Normal", imagesv1alpha1.ResolvedReason, "Resolved it"},
			},
		},
		{
			name: "ready turns false",
			tag:  "1.27",
			old:  state{ref, digestA, &readyTrue},
			cur:  state{ref, digestA, &unavailable},
			want: []transitionEvent{{"Warning", imagesv1alpha1.UnavailableReason, "503 from registry"}},
		},
		{
			name: "first resolution fails",
			tag:  "1.27",
			cur:  state{"", "", &notFound},
			want: []transitionEvent{{"Warning", imagesv1alpha1.NotFoundReason, "tag not found"}},
		},
		{
			name: "retry fails the same way",
			tag:  "1.27",
			old:  state{ref, digestA, &unavailable},
			cur:  state{ref, digestA, &unavailable2},
		},
		{
			name: "retry fails another way",
			tag:  "1.27",
			old:  state{ref, digestA, &unavailable},
			cur:  state{ref, digestA, &notFound},
			want: []transitionEvent{{"Warning", imagesv1alpha1.NotFoundReason, "tag not found"}},
		},
		{
			name: "recovers",
			tag:  "1.27",
			old:  state{ref, digestA, &notFound},
			cur:  state{ref, digestA, &readyTrue},
			want: []transitionEvent{{"Normal", imagesv1alpha1.ResolvedReason, "Resolved it"}},
		},
		{
			name: "unknown to ready",
			tag:  "1.27",
			old:  state{"", "", &suspended},
			cur:  state{ref, digestA, &readyTrue},
		},
		{
			name: "ready stays ready",
			tag:  "1.27",
			old:  state{ref, digestA, &readyTrue},
			cur:  state{ref, digestA, &readyTrue},
		},
		{
			name: "suspended without a previous condition",
			cur:  state{"", "", &suspended},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func(s state) *imagesv1alpha1.ImageConfig {
				o := &imagesv1alpha1.ImageConfig{}
				o.Spec.Tag, o.Spec.Digest = tt.tag, tt.digest
				o.Status.ImageRef, o.Status.Digest = s.imageRef, s.digest
				if s.ready != nil {
					o.Status.Conditions = []metav1.Condition{*s.ready}
				}
				return o
			}
			// The reconciler records a change before the events are computed.
			base, obj := mk(tt.old), mk(tt.cur)
			result := func(s state) *manifests.Result {
				if s.digest == "" {
					return nil
				}
				return &manifests.Result{Summary: manifests.Summary{ImageRef: s.imageRef, Digest: s.digest}}
			}
			if res := result(tt.cur); res != nil {
				imagestatus.RecordChange(&obj.Status, result(tt.old), res, imagestatus.MoveSubject(obj.Spec), time.Now())
			}
			got := transitionEvents(base, obj)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(transitionEvent{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
