package imagestatus

import (
	"fmt"
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// ReadyMessage is the Ready message of a resolved object.
func ReadyMessage(res *manifests.Result) string {
	return fmt.Sprintf("Resolved %s to %s for %s", res.ImageRef, res.Digest, res.Platform)
}

// Apply copies a resolution into the status and cuts it to fit (Fit), noting
// what it cut in status.truncated. lastChangedTime moves only when the digest
// changed. Fields that are not part of a resolution (conditions, times of the
// check, lastChange, rateLimit) are left alone.
func Apply(st *imagesv1alpha1.ImageConfigStatus, res *manifests.Result, now time.Time) {
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
			// Copies: Fit cuts them in place, and res must stay whole.
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
	st.BaseImage = declaredBase(s.BaseImage, st.BaseImage)
	st.AuthSource = s.AuthSource
	// A result confirmed from the previous status was already cut to fit: keep its note.
	if note := Fit(st); note != "" || !res.Unchanged {
		st.Truncated = note
	}
}

// Previous rebuilds the last resolution from the status, so that a re-check of
// an unchanged tag costs one HEAD request. It is nil when nothing was resolved.
func Previous(st *imagesv1alpha1.ImageConfigStatus) *manifests.Result {
	if st.Digest == "" || st.Config == nil {
		return nil
	}
	s := manifests.Summary{
		ImageRef: st.ImageRef, Digest: st.Digest, MediaType: st.MediaType,
		ManifestDigest: st.ManifestDigest, ConfigDigest: st.ConfigDigest, Platform: st.Platform,
		LayerHistoryNote: st.LayerHistoryNote, LayerCount: st.LayerCount, TotalSize: st.TotalSize,
		AuthSource: st.AuthSource, BaseImage: previousBase(st.BaseImage),
	}
	if len(st.Platforms) > 0 {
		s.Platforms = make([]manifests.IndexEntry, 0, len(st.Platforms))
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
	if len(st.Layers) > 0 {
		s.Layers = make([]manifests.Layer, 0, len(st.Layers))
	}
	for _, l := range st.Layers {
		s.Layers = append(s.Layers, manifests.Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Created: goTime(l.Created), CreatedBy: l.CreatedBy, Comment: l.Comment,
		})
	}
	return &manifests.Result{Summary: s}
}

// Options builds the finder's input from the spec, with the previous
// resolution from the status.
func Options(obj *imagesv1alpha1.ImageConfig) manifests.Options {
	p := obj.Spec.Platform
	return manifests.Options{
		Registry:   obj.Spec.Registry,
		Repository: obj.Spec.Repository,
		Tag:        obj.Spec.Tag,
		Digest:     obj.Spec.Digest,
		Platform:   platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion},
		Previous:   Previous(&obj.Status),
		Network:    manifests.Network{Insecure: obj.Spec.Insecure, Timeout: obj.GetTimeout()},
	}
}

// Spec is the spec an ImageConfig would have to ask for what opts asks for:
// the inverse of Options, for objects built from a resolution on demand.
func Spec(opts manifests.Options) imagesv1alpha1.ImageConfigSpec {
	p := opts.Platform
	return imagesv1alpha1.ImageConfigSpec{
		Registry: opts.Registry, Repository: opts.Repository, Tag: opts.Tag, Digest: opts.Digest, Insecure: opts.Network.Insecure,
		Platform: imagesv1alpha1.PlatformSpec{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion},
	}
}

// SetRequested records what the spec asks for, before any registry request, so
// that an object that never resolved still shows its image and platform. The
// resolved fields (imageRef, platform) are written only on success. A spec
// that names no valid image clears them; its Ready condition says why.
func SetRequested(obj *imagesv1alpha1.ImageConfig) {
	ref, platform, err := manifests.Requested(Options(obj))
	if err != nil {
		ref, platform = "", ""
	}
	obj.Status.RequestedImageRef, obj.Status.RequestedPlatform = ref, platform
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
