package controllers

import (
	"context"
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// testKstatus computes kstatus, which Flux and kubectl-style tools use to judge
// health, from ImageConfigs as the API server serves them, through their life:
// new, resolved, edited, stalled, retrying.
func testKstatus(t *testing.T, env *testenv.Env) {
	h := newHarness(t, env)
	h.r.Finder = fastRetryFinder
	compute := func(obj *imagesv1alpha1.ImageConfig) *status.Result {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(imagesv1alpha1.GroupVersion.WithKind("ImageConfig"))
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), u); err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(u)
		if err != nil {
			t.Fatalf("kstatus: %v", err)
		}
		return res
	}
	expect := func(step string, obj *imagesv1alpha1.ImageConfig, want status.Status) {
		t.Helper()
		if got := compute(obj); got.Status != want {
			cur := &imagesv1alpha1.ImageConfig{}
			_ = env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), cur)
			t.Errorf("%s: kstatus %s (%s), want %s; generation %d, observedGeneration %d, %s",
				step, got.Status, got.Message, want, cur.Generation, cur.Status.ObservedGeneration, conditionSummary(cur))
		}
	}
	reconcile := func(obj *imagesv1alpha1.ImageConfig) {
		t.Helper()
		_, _, _ = h.reconcile(obj)
	}

	obj := h.create("kstatus", nil)
	expect("created, not yet reconciled", obj, status.InProgressStatus)
	reconcile(obj)
	expect("resolved", obj, status.CurrentStatus)

	h.update(obj, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Platform.Variant = "v6" })
	expect("spec edited, not yet reconciled", obj, status.InProgressStatus)
	reconcile(obj)
	expect("edit resolved", obj, status.CurrentStatus)

	h.update(obj, func(o *imagesv1alpha1.ImageConfig) {
		o.Spec.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "ppc64le"}
	})
	expect("edited to a platform the index lacks", obj, status.InProgressStatus)
	reconcile(obj)
	expect("stalled on the edit", obj, status.FailedStatus)

	h.update(obj, func(o *imagesv1alpha1.ImageConfig) {
		o.Spec.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "s390x"}
	})
	h.reg.SetFault(testregistry.FailRequests("", "", http.StatusServiceUnavailable, 0, nil))
	reconcile(obj)
	expect("retrying an outage", obj, status.InProgressStatus)
	h.reg.SetFault(nil)
	reconcile(obj)
	expect("recovered", obj, status.CurrentStatus)

	stalled := h.create("kstatus-stalled", func(s *imagesv1alpha1.ImageConfigSpec) { s.Tag = "nope" })
	reconcile(stalled)
	expect("stalled from the start", stalled, status.FailedStatus)
}
