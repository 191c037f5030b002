package imagestatus

import (
	"errors"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// The condition setters below are the only code that writes the kstatus
// conditions. Each leaves the object's kstatus state unambiguous: Ready=True
// alone; or Ready=False with either Reconciling=True (a transient error being
// retried) or Stalled=True (a terminal error that needs a change to the spec,
// the registry or a credential).

// SetCondition sets one condition for the object's current generation.
func SetCondition(obj *imagesv1alpha1.ImageConfig, typ string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: obj.Generation,
	})
}

// MarkReady records a successful resolution of the current generation.
func MarkReady(obj *imagesv1alpha1.ImageConfig, msg string) {
	SetCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.StalledCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// MarkRetrying records a transient failure that is retried with backoff. Like
// every verdict on a generation, it sets status.observedGeneration (see MarkStalled).
func MarkRetrying(obj *imagesv1alpha1.ImageConfig, reason, msg string) {
	SetCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	SetCondition(obj, imagesv1alpha1.ReconcilingCondition, metav1.ConditionTrue, imagesv1alpha1.ProgressingReason, "Retrying: "+msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.StalledCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// MarkStalled records a terminal failure. status.observedGeneration becomes this
// generation, as in Flux: it is the generation the controller last acted on,
// failures included, so that kstatus reports Failed rather than InProgress after
// an edit that stalls. The digests in the status still belong to the last
// successful resolution, which may be of an earlier generation; Ready=True says
// they are this one's.
func MarkStalled(obj *imagesv1alpha1.ImageConfig, reason, msg string) {
	SetCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	SetCondition(obj, imagesv1alpha1.StalledCondition, metav1.ConditionTrue, reason, msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// MarkSuspended leaves what was resolved, and its conditions, as they are. An
// object that was never resolved gets Ready=Unknown, so that it does not look forgotten.
func MarkSuspended(obj *imagesv1alpha1.ImageConfig) {
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	if apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ReadyCondition) == nil {
		SetCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionUnknown, imagesv1alpha1.SuspendedReason, "Suspended: spec.suspend is true, so the registry is not contacted")
	}
}

// MarkResolved records res: Apply, then Ready=True with ReadyMessage.
func MarkResolved(obj *imagesv1alpha1.ImageConfig, res *manifests.Result, now time.Time) {
	Apply(&obj.Status, res, now)
	MarkReady(obj, ReadyMessage(res))
}

// MarkFailed records a failed resolution: its reason, and whether it is
// retried (RateLimited, Unavailable, or an error that is not a finder error)
// or stalled (every other reason: retrying without a change cannot succeed).
// A rate limit's message says when to expect relief. The resolved fields of
// the status are left alone: an outage never blanks a resolved digest.
func MarkFailed(obj *imagesv1alpha1.ImageConfig, err error, now time.Time) {
	var ferr *manifests.Error
	switch {
	case !errors.As(err, &ferr):
		MarkRetrying(obj, string(manifests.Unavailable), err.Error())
	case ferr.Reason == manifests.RateLimited:
		MarkRetrying(obj, string(ferr.Reason), RateLimitedMessage(ferr, now))
	case ferr.Terminal():
		MarkStalled(obj, string(ferr.Reason), ferr.Error())
	default:
		MarkRetrying(obj, string(ferr.Reason), ferr.Error())
	}
}
