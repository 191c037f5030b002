package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update;patch

// Keys and annotations of the exported ConfigMap.
const (
	exportConfigKey   = "config.json"
	exportManifestKey = "manifest.json"
	exportIndexKey    = "index.json"
	// exportDigestsAnnotation records which resolution the ConfigMap holds.
	exportDigestsAnnotation = "images.imageconfig.dev/exported-digests"
	// exportHashAnnotation is the sha256 of the data the controller wrote, so that
	// an edit of the ConfigMap is seen and undone.
	exportHashAnnotation = "images.imageconfig.dev/content-hash"
	// maxExportBytes is a ConfigMap's limit on its data.
	maxExportBytes = 1 << 20
)

// RawFetcher fetches the bytes of an earlier resolution by digest.
type RawFetcher func(ctx context.Context, opts manifests.Options, s *manifests.Summary) (*manifests.RawContent, error)

// export writes the resolved bytes to the ConfigMap of spec.export and sets the
// Exported condition. It writes only when the resolution changed, or when the
// ConfigMap is missing or was edited; after an unchanged re-check (which carries
// no bytes) it fetches them by digest only in those cases. The Ready condition is
// not its business: the resolution succeeded whatever happens here. Only API
// errors are returned, for a retry.
func (r *ImageConfigReconciler) export(ctx context.Context, obj *imagesv1alpha1.ImageConfig, res *manifests.Result, opts manifests.Options) error {
	if obj.Spec.Export == nil {
		apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.ExportedCondition)
		return nil
	}
	name := obj.Spec.Export.ConfigMapName
	digests := res.Digest + "," + res.ManifestDigest + "," + res.ConfigDigest
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ExportedCondition); c != nil &&
		c.Reason == imagesv1alpha1.ExportTooLargeReason && res.Unchanged && c.ObservedGeneration == obj.Generation {
		// Still the same bytes, still too large: nothing to fetch.
		return nil
	}

	cm := &corev1.ConfigMap{}
	err := r.reader().Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, cm)
	missing := apierrors.IsNotFound(err)
	switch {
	case err != nil && !missing:
		return exportFailed(obj, fmt.Errorf("reading ConfigMap %s: %w", name, err))
	case !missing && !metav1.IsControlledBy(cm, obj):
		imagestatus.SetCondition(obj, imagesv1alpha1.ExportedCondition, metav1.ConditionFalse, imagesv1alpha1.ExportConflictReason,
			fmt.Sprintf("ConfigMap %s exists and is not owned by this ImageConfig, so it is left alone: delete it or choose another spec.export.configMapName", name))
		return nil
	case !missing && cm.Annotations[exportDigestsAnnotation] == digests && cm.Annotations[exportHashAnnotation] == dataHash(cm.Data, cm.BinaryData):
		markExported(obj, name)
		return nil
	}

	raw := manifests.RawOf(res)
	if raw == nil {
		if raw, err = r.rawFetcher()(ctx, opts, &res.Summary); err != nil {
			reason := manifests.ReasonOf(err)
			imagestatus.SetCondition(obj, imagesv1alpha1.ExportedCondition, metav1.ConditionFalse, string(reason), "Fetching the bytes to export: "+err.Error())
			if reason == manifests.Unavailable || reason == manifests.RateLimited {
				return err // retried with backoff: exportRetryDue makes the retry due
			}
			return nil
		}
	}
	data := map[string]string{exportConfigKey: string(raw.Config), exportManifestKey: string(raw.Manifest)}
	if raw.Index != nil {
		data[exportIndexKey] = string(raw.Index)
	}
	if size := dataSize(data); size > maxExportBytes {
		imagestatus.SetCondition(obj, imagesv1alpha1.ExportedCondition, metav1.ConditionFalse, imagesv1alpha1.ExportTooLargeReason,
			fmt.Sprintf("The export is %d bytes (%s), over a ConfigMap's limit of %d bytes (1 MiB), so ConfigMap %s was not written", size, format.Size(int64(size)), maxExportBytes, name))
		return nil
	}

	if missing {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: name}}
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[exportDigestsAnnotation] = digests
	cm.Annotations[exportHashAnnotation] = dataHash(data, nil)
	cm.Data, cm.BinaryData = data, nil
	if err := controllerutil.SetControllerReference(obj, cm, r.Scheme()); err != nil {
		return exportFailed(obj, fmt.Errorf("owning ConfigMap %s: %w", name, err))
	}
	if missing {
		err = r.Create(ctx, cm)
	} else {
		err = r.Update(ctx, cm)
	}
	if err != nil {
		return exportFailed(obj, fmt.Errorf("writing ConfigMap %s: %w", name, err))
	}
	ctrl.LoggerFrom(ctx).Info("Exported", "configMap", name, "digest", res.Digest, "bytes", dataSize(data))
	markExported(obj, name)
	return nil
}

// exportFailed records an API error of the export and returns it, for a retry
// with backoff.
func exportFailed(obj *imagesv1alpha1.ImageConfig, err error) error {
	imagestatus.SetCondition(obj, imagesv1alpha1.ExportedCondition, metav1.ConditionFalse, imagesv1alpha1.ExportFailedReason, err.Error())
	return err
}

// exportRetryDue reports whether the last export failed in a way that a retry can
// fix (the API server, or the registry being unavailable), so that the object is
// due again without waiting for the interval.
func exportRetryDue(obj *imagesv1alpha1.ImageConfig) bool {
	c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ExportedCondition)
	if c == nil || c.Status != metav1.ConditionFalse || obj.Spec.Export == nil {
		return false
	}
	switch c.Reason {
	case imagesv1alpha1.ExportFailedReason, string(manifests.Unavailable), string(manifests.RateLimited):
		return true
	}
	return false
}

func markExported(obj *imagesv1alpha1.ImageConfig, name string) {
	imagestatus.SetCondition(obj, imagesv1alpha1.ExportedCondition, metav1.ConditionTrue, imagesv1alpha1.ExportedReason,
		fmt.Sprintf("ConfigMap %s holds the config, manifest and index of %s", name, obj.Status.Digest))
}

// dataHash is the sha256 of a ConfigMap's data, by sorted key.
func dataHash(data map[string]string, binary map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(data[k]), data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(binary)) {
		fmt.Fprintf(h, "b%d:%s%d:%s", len(k), k, len(binary[k]), binary[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func dataSize(data map[string]string) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// rawFetcher returns FetchRaw; when it is nil, the finder's own FetchRaw (the
// shared finder answers from its content cache); otherwise manifests.FetchRaw.
func (r *ImageConfigReconciler) rawFetcher() RawFetcher {
	if r.FetchRaw != nil {
		return r.FetchRaw
	}
	if f, ok := r.finder().(interface {
		FetchRaw(context.Context, manifests.Options, *manifests.Summary) (*manifests.RawContent, error)
	}); ok {
		return f.FetchRaw
	}
	return manifests.FetchRaw
}
