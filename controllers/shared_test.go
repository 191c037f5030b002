package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

// reconcileAll reconciles every object at once and returns them as stored.
func reconcileAll(t *testing.T, r *ImageConfigReconciler, objs []*imagesv1alpha1.ImageConfig) []*imagesv1alpha1.ImageConfig {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(objs))
	for i, o := range objs {
		wg.Go(func() {
			_, errs[i] = r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		})
	}
	wg.Wait()
	out := make([]*imagesv1alpha1.ImageConfig, len(objs))
	for i, o := range objs {
		if errs[i] != nil {
			t.Fatalf("Reconcile %s: %v", o.Name, errs[i])
		}
		out[i] = &imagesv1alpha1.ImageConfig{}
		if err := r.Get(context.Background(), client.ObjectKeyFromObject(o), out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestFleet covers what a fleet needs, on one control plane: the shared finder
// behind the reconciler, and sharding across managers.
func TestFleet(t *testing.T) {
	env := controlPlane.Get(t)
	t.Run("shared finder on one tag", func(t *testing.T) { testSharedFleet(t, env) })
	t.Run("credentials never leak", func(t *testing.T) { testSharedCredentials(t, env) })
	t.Run("sharding", func(t *testing.T) { testSharding(t, env) })
}

// testSharedFleet: 20 ImageConfigs on one tag, reconciled at once through the
// shared finder, cost one handshake and three GETs; each later interval costs
// one HEAD for all of them. With --status-heartbeat=0 (every check written),
// each re-check writes only the check time; by default it writes nothing
// (TestRestartMidSteadyState).
func testSharedFleet(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	index := reg.PushIndex(t, "demo/hello", "1.0", idx).String()
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	r := &ImageConfigReconciler{Client: env.Client, Recorder: &recorder{}, AllowInsecureRegistries: true, Now: clk.Now, StatusHeartbeat: -1,
		Sessions: manifests.NewSessions(time.Hour, 100),
		Finder:   manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clk.Now})}
	interval := 10 * time.Minute
	var objs []*imagesv1alpha1.ImageConfig
	for i := range 20 {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%02d", i), Namespace: ns},
			Spec: imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "demo/hello", Tag: "1.0", Insecure: true,
				Interval: &metav1.Duration{Duration: interval}},
		}
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	log := reg.Log()
	for _, o := range reconcileAll(t, r, objs) {
		if c := ready(o); c == nil || c.Status != metav1.ConditionTrue || o.Status.Digest != index || o.Status.Config == nil {
			t.Fatalf("%s: %s", o.Name, conditionSummary(o))
		}
	}
	if diff := cmp.Diff(testregistry.Counts{Pings: 1, Tokens: 1, ManifestGETs: 2, BlobGETs: 1}, log.Counts()); diff != "" {
		t.Fatalf("first resolution of 20 objects: one handshake, the index, manifest and config (-want +got):\n%s\n%s", diff, log)
	}

	prev := reconcileAll(t, r, nil)
	for _, o := range objs {
		cur := &imagesv1alpha1.ImageConfig{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(o), cur); err != nil {
			t.Fatal(err)
		}
		prev = append(prev, cur)
	}
	for round := range 3 {
		log.Reset()
		clk.Step(interval + interval/10 + time.Second) // every object is due
		before := reconcileAll(t, r, objs)
		for i, o := range before {
			// The unchanged re-check wrote the check time and nothing else.
			was, now := prev[i].Status.DeepCopy(), o.Status.DeepCopy()
			if o.ResourceVersion == prev[i].ResourceVersion || was.LastCheckedTime.Equal(now.LastCheckedTime) {
				t.Fatalf("round %d: %s was not written", round, o.Name)
			}
			was.LastCheckedTime = now.LastCheckedTime
			if diff := cmp.Diff(was, now, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round %d: an unchanged re-check changed more than lastCheckedTime in %s (-before +after):\n%s", round, o.Name, diff)
			}
		}
		prev = before
		var rvs []string
		for _, o := range before {
			rvs = append(rvs, o.ResourceVersion)
		}
		after := reconcileAll(t, r, objs) // not due: no request, no write
		if diff := cmp.Diff(testregistry.Counts{ManifestHEADs: 1}, log.Counts()); diff != "" {
			t.Fatalf("round %d: want exactly one HEAD for 20 objects (-want +got):\n%s\n%s", round, diff, log)
		}
		for i, o := range after {
			if o.ResourceVersion != rvs[i] {
				t.Errorf("round %d: %s was written again when it was not due", round, o.Name)
			}
			if !o.Status.LastCheckedTime.Equal(before[0].Status.LastCheckedTime) {
				t.Errorf("round %d: %s lastCheckedTime %v, want the shared HEAD's %v", round, o.Name, o.Status.LastCheckedTime, before[0].Status.LastCheckedTime)
			}
		}
	}

	// A restart: empty caches; the status is the cache. The first look gives each
	// object its tag's slot within one interval; one handshake and one HEAD for all.
	restarted := &ImageConfigReconciler{Client: env.Client, Recorder: &recorder{}, AllowInsecureRegistries: true, Now: clk.Now, StatusHeartbeat: -1,
		Sessions: manifests.NewSessions(time.Hour, 100),
		Finder:   manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clk.Now})}
	log.Reset()
	clk.Step(interval + interval/10 + time.Second)
	reconcileAll(t, restarted, objs)
	clk.Step(interval)
	for _, o := range reconcileAll(t, restarted, objs) {
		if o.Status.Digest != index || ready(o).Status != metav1.ConditionTrue {
			t.Fatalf("after the restart: %s", conditionSummary(o))
		}
	}
	if diff := cmp.Diff(testregistry.Counts{Pings: 1, Tokens: 1, ManifestHEADs: 1}, log.Counts()); diff != "" {
		t.Fatalf("after a restart: want one handshake and one HEAD for 20 objects (-want +got):\n%s\n%s", diff, log)
	}
}

// testSharedCredentials: a private repository behind token auth, two
// objects on the same tag, one with a valid Secret and one with none. The one
// with none stays Unauthorized (Stalled), whatever the shared caches hold.
func testSharedCredentials(t *testing.T, env *testenv.Env) {
	reg := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth, Users: map[string]string{"alice": alicePassword}})
	idx, _ := testregistry.MultiArch(t)
	reg.Push(t, "private/app", "1", idx)
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	h := &credHarness{t: t, c: env.Client, rec: &recorder{}, ns: ns}
	h.secret("pull", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": dockerConfigJSON(reg.Host(), "alice", alicePassword)})
	r := &ImageConfigReconciler{Client: env.Client, APIReader: env.Client, Recorder: h.rec, AllowInsecureRegistries: true, Now: clk.Now,
		Sessions: manifests.NewSessions(time.Hour, 100),
		Finder:   manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clk.Now})}
	mk := func(name string, secret bool) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "private/app", Tag: "1", Insecure: true}}
		if secret {
			o.Spec.SecretRef = &imagesv1alpha1.LocalObjectReference{Name: "pull"}
		}
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	check := func(got []*imagesv1alpha1.ImageConfig) {
		t.Helper()
		if c := ready(got[0]); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("with the Secret: %s", conditionSummary(got[0]))
		}
		c := ready(got[1])
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(manifests.Unauthorized) ||
			!apimeta.IsStatusConditionTrue(got[1].Status.Conditions, imagesv1alpha1.StalledCondition) || got[1].Status.Digest != "" {
			t.Fatalf("without credentials: %s digest=%q; want Unauthorized, Stalled, nothing resolved", conditionSummary(got[1]), got[1].Status.Digest)
		}
	}

	// One after the other: the caches are warm when the one without credentials comes.
	a, b := mk("with-secret", true), mk("without", false)
	check([]*imagesv1alpha1.ImageConfig{reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{a})[0], reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{b})[0]})
	// At once, and again later within the window.
	check(reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{mk("with-secret-2", true), mk("without-2", false)}))
	clk.Step(time.Minute)
	check(reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{a, b}))
}
