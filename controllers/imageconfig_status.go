package controllers

import (
	"fmt"
	"maps"
	"slices"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// The condition setters below are the only code that writes conditions. Each
// leaves the object's kstatus state unambiguous: Ready=True alone; or Ready=False
// with either Reconciling=True (a transient error being retried) or Stalled=True
// (a terminal error that needs a change to the spec, the registry or a credential).

func setCondition(obj *imagesv1alpha1.ImageConfig, typ string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: obj.Generation,
	})
}

// markReady records a successful resolution of the current generation.
func markReady(obj *imagesv1alpha1.ImageConfig, msg string) {
	setCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.StalledCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// markRetrying records a transient failure that the controller retries with backoff.
// Like every verdict on a generation, it sets status.observedGeneration (see markStalled).
func markRetrying(obj *imagesv1alpha1.ImageConfig, reason, msg string) {
	setCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	setCondition(obj, imagesv1alpha1.ReconcilingCondition, metav1.ConditionTrue, imagesv1alpha1.ProgressingReason, "Retrying: "+msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.StalledCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// markStalled records a terminal failure. status.observedGeneration becomes this
// generation, as in Flux: it is the generation the controller last acted on,
// failures included, so that kstatus reports Failed rather than InProgress after an
// edit that stalls. The digests in the status still belong to the last successful
// resolution, which may be of an earlier generation; Ready=True says they are this one's.
func markStalled(obj *imagesv1alpha1.ImageConfig, reason, msg string) {
	setCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	setCondition(obj, imagesv1alpha1.StalledCondition, metav1.ConditionTrue, reason, msg)
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	obj.Status.ObservedGeneration = obj.Generation
}

// markSuspended leaves what was resolved, and its conditions, as they are. An object
// that was never resolved gets Ready=Unknown, so that it does not look forgotten.
func markSuspended(obj *imagesv1alpha1.ImageConfig) {
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ReconcilingCondition)
	if apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ReadyCondition) == nil {
		setCondition(obj, imagesv1alpha1.ReadyCondition, metav1.ConditionUnknown, imagesv1alpha1.SuspendedReason, "Suspended: spec.suspend is true, so the registry is not contacted")
	}
}

// readyMessage is the Ready message of a resolved object.
func readyMessage(res *manifests.Result) string {
	return fmt.Sprintf("Resolved %s to %s for %s", res.ImageRef, res.Digest, res.Platform)
}

// applyResult copies a resolution into the status. lastChangedTime moves only when
// the digest changed.
func applyResult(st *imagesv1alpha1.ImageConfigStatus, res *manifests.Result, now time.Time) {
	if st.Digest != res.Digest || st.LastChangedTime == nil {
		st.LastChangedTime = &metav1.Time{Time: now}
	}
	s := res.Summary
	st.ImageRef = s.ImageRef
	st.Digest = s.Digest
	st.MediaType = s.MediaType
	st.ManifestDigest = s.ManifestDigest
	st.ConfigDigest = s.ConfigDigest
	st.Platform = s.Platform
	st.Platforms = nil
	for _, e := range s.Platforms {
		st.Platforms = append(st.Platforms, imagesv1alpha1.IndexEntry(e))
	}
	st.Config = nil
	if c := s.Config; c != nil {
		st.Config = &imagesv1alpha1.ImageBuildConfig{
			Created: metaTime(c.Created), Author: c.Author,
			OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion,
			// Copies: fitStatus cuts them in place, and res must stay whole.
			User: c.User, Env: slices.Clone(c.Env), Entrypoint: slices.Clone(c.Entrypoint), Cmd: slices.Clone(c.Cmd), WorkingDir: c.WorkingDir,
			ExposedPorts: slices.Clone(c.ExposedPorts), Volumes: slices.Clone(c.Volumes), Labels: maps.Clone(c.Labels), StopSignal: c.StopSignal,
		}
	}
	st.Layers = nil
	for _, l := range s.Layers {
		st.Layers = append(st.Layers, imagesv1alpha1.Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Created: metaTime(l.Created), CreatedBy: l.CreatedBy, Comment: l.Comment,
		})
	}
	st.LayerHistoryNote = s.LayerHistoryNote
	st.LayerCount = s.LayerCount
	st.TotalSize = s.TotalSize
	st.BaseImage = (*imagesv1alpha1.BaseImage)(s.BaseImage)
	st.AuthSource = s.AuthSource
	// A result confirmed from the previous status was already cut to fit: keep its note.
	if note := fitStatus(st); note != "" || !res.Unchanged {
		st.Truncated = note
	}
}

// previousResult rebuilds the last resolution from the status, so that a re-check
// of an unchanged tag costs one HEAD request. It is nil when nothing was resolved.
func previousResult(st *imagesv1alpha1.ImageConfigStatus) *manifests.Result {
	if st.Digest == "" || st.Config == nil {
		return nil
	}
	s := manifests.Summary{
		ImageRef: st.ImageRef, Digest: st.Digest, MediaType: st.MediaType,
		ManifestDigest: st.ManifestDigest, ConfigDigest: st.ConfigDigest, Platform: st.Platform,
		LayerHistoryNote: st.LayerHistoryNote, LayerCount: st.LayerCount, TotalSize: st.TotalSize,
		AuthSource: st.AuthSource, BaseImage: (*manifests.BaseImage)(st.BaseImage),
	}
	for _, e := range st.Platforms {
		s.Platforms = append(s.Platforms, manifests.IndexEntry(e))
	}
	c := st.Config
	s.Config = &manifests.BuildConfig{
		Created: goTime(c.Created), Author: c.Author,
		OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion,
		User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
		ExposedPorts: c.ExposedPorts, Volumes: c.Volumes, Labels: c.Labels, StopSignal: c.StopSignal,
	}
	for _, l := range st.Layers {
		s.Layers = append(s.Layers, manifests.Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Created: goTime(l.Created), CreatedBy: l.CreatedBy, Comment: l.Comment,
		})
	}
	return &manifests.Result{Summary: s}
}

// setRequested records what the spec asks for, before any registry request, so
// that an object that never resolved still shows its image and platform. The
// resolved fields (imageRef, platform) are written only on success. A spec that
// names no valid image clears them; its Ready condition says why.
func setRequested(obj *imagesv1alpha1.ImageConfig) {
	ref, platform, err := manifests.Requested(options(obj))
	if err != nil {
		ref, platform = "", ""
	}
	obj.Status.RequestedImageRef, obj.Status.RequestedPlatform = ref, platform
}

// options builds the finder's input from the spec.
func options(obj *imagesv1alpha1.ImageConfig) manifests.Options {
	p := obj.Spec.Platform
	return manifests.Options{
		Registry:   obj.Spec.Registry,
		Repository: obj.Spec.Repository,
		Tag:        obj.Spec.Tag,
		Digest:     obj.Spec.Digest,
		Platform:   platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion},
		Insecure:   obj.Spec.Insecure,
		Timeout:    obj.GetTimeout(),
		Previous:   previousResult(&obj.Status),
	}
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}

func goTime(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}
