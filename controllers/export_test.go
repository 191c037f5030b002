package controllers

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// plainGET fetches a path of an anonymous registry with no client but net/http.
func plainGET(t *testing.T, reg *testregistry.Registry, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, reg.URL()+path, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := reg.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return string(b)
}

func exported(obj *imagesv1alpha1.ImageConfig) *metav1.Condition {
	return apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ExportedCondition)
}

func testExport(t *testing.T, env *testenv.Env) {
	ctx := context.Background()
	h := newHarness(t, env)
	reg := testregistry.New(t, testregistry.Options{}) // anonymous, for plain GETs
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "exp/app", "1", idx)
	exportTo := func(name, repo string) func(*imagesv1alpha1.ImageConfigSpec) {
		return func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Registry, s.Repository, s.Tag = reg.Host(), repo, "1"
			s.Export = &imagesv1alpha1.ExportSpec{ConfigMapName: name}
		}
	}
	getCM := func(name string) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: name}, cm); err != nil {
			t.Fatalf("ConfigMap %s: %v", name, err)
		}
		return cm
	}
	checkBytes := func(cm *corev1.ConfigMap, st imagesv1alpha1.ImageConfigStatus) {
		t.Helper()
		want := map[string]string{
			"index.json":    plainGET(t, reg, "/v2/exp/app/manifests/"+st.Digest),
			"manifest.json": plainGET(t, reg, "/v2/exp/app/manifests/"+st.ManifestDigest),
			"config.json":   plainGET(t, reg, "/v2/exp/app/blobs/"+st.ConfigDigest),
		}
		if diff := cmp.Diff(want, cm.Data); diff != "" {
			t.Errorf("ConfigMap data, want the 3 files as a plain GET returns them (-want +got):\n%s", diff)
		}
		if len(cm.BinaryData) != 0 {
			t.Errorf("ConfigMap binaryData has %d keys, want none", len(cm.BinaryData))
		}
	}

	obj := h.create("exporter", exportTo("app-export", "exp/app"))
	_, err, got := h.reconcile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if c := exported(got); c == nil || c.Status != metav1.ConditionTrue || c.Reason != imagesv1alpha1.ExportedReason {
		t.Fatalf("Exported = %+v", c)
	}
	cm := getCM("app-export")
	checkBytes(cm, got.Status)
	// The ImageConfig is its controller, so that deleting it deletes the ConfigMap.
	wantOwners := []metav1.OwnerReference{{APIVersion: imagesv1alpha1.GroupVersion.String(), Kind: "ImageConfig", Name: "exporter", UID: got.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	if diff := cmp.Diff(wantOwners, cm.OwnerReferences); diff != "" {
		t.Errorf("ownerReferences (-want +got):\n%s", diff)
	}

	t.Run("an unchanged re-check writes nothing and fetches nothing", func(t *testing.T) {
		reg.Log().Reset()
		h.forceRecheck(obj, "1")
		if _, err, _ := h.reconcile(obj); err != nil {
			t.Fatal(err)
		}
		if rv := getCM("app-export").ResourceVersion; rv != cm.ResourceVersion {
			t.Errorf("resourceVersion %s -> %s: rewritten after an unchanged re-check", cm.ResourceVersion, rv)
		}
		if reg.Log().ManifestGETs()+reg.Log().BlobGETs() != 0 {
			t.Errorf("GETs after an unchanged re-check:\n%s", reg.Log())
		}
	})

	t.Run("an edited ConfigMap is restored, with the bytes fetched by digest", func(t *testing.T) {
		edited := getCM("app-export")
		edited.Data["config.json"] = "{}"
		if err := h.c.Update(ctx, edited); err != nil {
			t.Fatal(err)
		}
		reg.Log().Reset()
		h.forceRecheck(obj, "2")
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Log().ManifestHEADs() != 1 || reg.Log().ManifestGETs() != 2 || reg.Log().BlobGETs() != 1 {
			t.Errorf("want one HEAD, then the index, manifest and config by digest:\n%s", reg.Log())
		}
		checkBytes(getCM("app-export"), got.Status)
	})

	t.Run("a moved tag is exported again", func(t *testing.T) {
		img := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm", Variant: "v7", Layers: []string{"moved"}})
		reg.PushImage(t, "exp/app", "1", img)
		h.forceRecheck(obj, "3")
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		moved := getCM("app-export")
		if moved.Data["config.json"] != plainGET(t, reg, "/v2/exp/app/blobs/"+got.Status.ConfigDigest) || moved.Data["manifest.json"] != plainGET(t, reg, "/v2/exp/app/manifests/"+got.Status.ManifestDigest) {
			t.Error("the ConfigMap does not hold the moved tag's bytes")
		}
		if _, ok := moved.Data["index.json"]; ok {
			t.Error("index.json kept for a single-platform image")
		}
	})

	t.Run("over 1 MiB: ExportTooLarge, Ready stays True", func(t *testing.T) {
		cfg := testregistry.RichConfig()
		cfg.Labels["big"] = strings.Repeat("x", 2<<20)
		reg.PushImage(t, "exp/big", "1", testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm", Variant: "v7", Layers: []string{"a"}, Config: cfg}))
		big := h.create("big", exportTo("big-export", "exp/big"))
		_, err, got := h.reconcile(big)
		if err != nil {
			t.Fatal(err)
		}
		c := exported(got)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != imagesv1alpha1.ExportTooLargeReason || !strings.Contains(c.Message, "The export is 209") || !strings.Contains(c.Message, "2.0 MiB") {
			t.Errorf("Exported = %+v, want False/ExportTooLarge naming the size", c)
		}
		if r := ready(got); r == nil || r.Status != metav1.ConditionTrue {
			t.Errorf("Ready = %+v, want True", r)
		}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "big-export"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("a too-large ConfigMap was written: %v", err)
		}
	})

	t.Run("a foreign ConfigMap is never touched: ExportConflict", func(t *testing.T) {
		foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "foreign"}, Data: map[string]string{"keep": "me"}}
		if err := h.c.Create(ctx, foreign); err != nil {
			t.Fatal(err)
		}
		o := h.create("clash", exportTo("foreign", "exp/app"))
		_, err, got := h.reconcile(o)
		if err != nil {
			t.Fatal(err)
		}
		if c := exported(got); c == nil || c.Status != metav1.ConditionFalse || c.Reason != imagesv1alpha1.ExportConflictReason || !strings.Contains(c.Message, "foreign") {
			t.Errorf("Exported = %+v, want False/ExportConflict", c)
		}
		// foreign is as the API server created it.
		if diff := cmp.Diff(foreign, getCM("foreign")); diff != "" {
			t.Errorf("the foreign ConfigMap was changed (-created +now):\n%s", diff)
		}
	})

	t.Run("through the shared finder, a missing ConfigMap is rebuilt from its cache", func(t *testing.T) {
		reg.PushIndex(t, "exp/shared", "1", idx)
		shared := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
		hs := &harness{t: t, c: h.c, rec: &recorder{}, reg: h.reg, ns: h.ns, images: h.images}
		hs.r = &ImageConfigReconciler{Client: h.c, Recorder: hs.rec, AllowInsecureRegistries: true, Finder: shared}
		first := hs.create("shared-1", exportTo("shared-1", "exp/shared"))
		second := hs.create("shared-2", exportTo("shared-2", "exp/shared"))
		reg.Log().Reset()
		for _, o := range []*imagesv1alpha1.ImageConfig{first, second} {
			if _, err, _ := hs.reconcile(o); err != nil {
				t.Fatal(err)
			}
		}
		if reg.Log().ManifestGETs() != 2 || reg.Log().BlobGETs() != 1 {
			t.Errorf("two objects on one tag, want the index, manifest and config fetched once:\n%s", reg.Log())
		}
		if err := h.c.Delete(ctx, getCM("shared-2")); err != nil {
			t.Fatal(err)
		}
		reg.Log().Reset()
		hs.forceRecheck(second, "1")
		_, err, got := hs.reconcile(second)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Log().ManifestHEADs() != 1 || reg.Log().ManifestGETs() != 0 || reg.Log().BlobGETs() != 0 {
			t.Errorf("want one HEAD (the object's own check) and no GET:\n%s", reg.Log())
		}
		want := map[string]string{
			"index.json":    plainGET(t, reg, "/v2/exp/shared/manifests/"+got.Status.Digest),
			"manifest.json": plainGET(t, reg, "/v2/exp/shared/manifests/"+got.Status.ManifestDigest),
			"config.json":   plainGET(t, reg, "/v2/exp/shared/blobs/"+got.Status.ConfigDigest),
		}
		if diff := cmp.Diff(want, getCM("shared-2").Data); diff != "" {
			t.Errorf("ConfigMap data, want the 3 files as a plain GET returns them (-want +got):\n%s", diff)
		}
	})

	t.Run("the name is validated", func(t *testing.T) {
		bad := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "badname"},
			Spec: imagesv1alpha1.ImageConfigSpec{Repository: "x", Export: &imagesv1alpha1.ExportSpec{ConfigMapName: "Not_A_Name"}}}
		if err := h.c.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "configMapName") {
			t.Errorf("create with configMapName Not_A_Name: %v, want a validation error", err)
		}
	})
}

// TestExportRetryDue: an export that failed in a way a retry can fix makes the
// object due at once (the reconcile returned the error, so it backs off); one that
// a retry cannot fix waits for the interval like any other object.
func TestExportRetryDue(t *testing.T) {
	now := time.Now()
	tests := []struct {
		reason string
		export bool
		due    bool
	}{
		{imagesv1alpha1.ExportFailedReason, true, true},
		{"Unavailable", true, true},
		{"RateLimited", true, true},
		{imagesv1alpha1.ExportTooLargeReason, true, false},
		{imagesv1alpha1.ExportConflictReason, true, false},
		{"NotFound", true, false},
		{imagesv1alpha1.ExportFailedReason, false, false}, // export removed from the spec
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			o := &imagesv1alpha1.ImageConfig{}
			o.Spec.Interval = &metav1.Duration{Duration: time.Hour}
			if tt.export {
				o.Spec.Export = &imagesv1alpha1.ExportSpec{ConfigMapName: "x"}
			}
			o.Status.LastCheckedTime = &metav1.Time{Time: now.Add(-time.Minute)}
			o.Status.Conditions = []metav1.Condition{
				condition(imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, "ok", 0),
				condition(imagesv1alpha1.ExportedCondition, metav1.ConditionFalse, tt.reason, "failed", 0),
			}
			if got := newSchedule().untilDue(o, now) == 0; got != tt.due {
				t.Errorf("due = %v, want %v", got, tt.due)
			}
		})
	}
}
