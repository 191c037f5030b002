package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// storedEquality compares statuses as the API server stores them: like
// equality.Semantic (a nil and an empty list or map are equal), with times
// compared at the second, the precision of their RFC 3339 JSON. Two statuses
// it finds equal have the same stored bytes, so writing one over the other
// would change nothing.
var storedEquality = conversion.EqualitiesOrDie(
	func(a, b metav1.Time) bool {
		return a.UTC().Truncate(time.Second).Equal(b.UTC().Truncate(time.Second))
	},
)

// statusChanged reports whether obj's status differs from base's as stored.
// It costs microseconds and no allocation of JSON: most re-checks change
// nothing, and every object pays it on every interval.
func statusChanged(base, obj *imagesv1alpha1.ImageConfig) bool {
	return !storedEquality.DeepEqual(base.Status, obj.Status)
}

// statusPatch returns the patch that writes obj's status, nil when it is
// unchanged from base's. It is a JSON patch that replaces the whole status
// and sets base's resourceVersion, built with a single json.Marshal:
//
//   - The manager is the status's only writer and computes it whole, so it
//     replaces it whole (the CRD declares the status atomic for field
//     management too). A merge patch would need both objects marshalled,
//     decoded and diffed on every write (tens of kilobytes of garbage each),
//     and explicit nulls for what was removed.
//   - base is what the informer cache held, which may miss this controller's
//     own last write. The resourceVersion turns a stale base into a conflict,
//     retried on a fresh read, instead of a write computed from a stale
//     status. (The API server compares the patched object's resourceVersion
//     with the stored one, for every patch type, as for MergeFromWithOptimisticLock.)
func statusPatch(base, obj *imagesv1alpha1.ImageConfig) ([]byte, error) {
	if !statusChanged(base, obj) {
		return nil, nil
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	ops := make([]op, 0, 2)
	if base.ResourceVersion != "" {
		ops = append(ops, op{Op: "replace", Path: "/metadata/resourceVersion", Value: base.ResourceVersion})
	}
	ops = append(ops, op{Op: "add", Path: "/status", Value: &obj.Status})
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("computing the status patch: %w", err)
	}
	return data, nil
}

// patchStatus writes obj's status when it differs from base's, with one patch.
func (r *ImageConfigReconciler) patchStatus(ctx context.Context, base, obj *imagesv1alpha1.ImageConfig) error {
	data, err := statusPatch(base, obj)
	if err != nil || data == nil {
		return err
	}
	if err := r.Status().Patch(ctx, obj, client.RawPatch(types.JSONPatchType, data)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("patching status: %w", err))
	}
	return nil
}
