package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/faultproxy"
)

// Convergence under failure. The bound on registry requests is derived from the
// code in use, not hard-coded: a calibration fleet of the same shape as one
// repository of the fleet (100 objects over 10 tags, against 100·k objects over
// 10 tags of each of k repositories) is resolved without faults first, which
// gives the first-resolution cost C0 = k × its requests. With a fraction p = 0.2 of
// requests failing, a request that is retried until it succeeds is sent
// 1/(1−p) = 1.25 times on average; failures that lose a whole attempt (a reset
// mid-body, three failures in a row) resend its earlier requests too, which the
// safety factor of 1.5 covers. The bound is C0 × 1.25 × 1.5. It holds with or
// without shared resolution between objects, since C0 is measured on the same code.
const (
	convergenceFailRate = 0.2
	convergenceSafety   = 1.5
	convergenceSeed     = 42
)

// testConvergence runs a manager over 100·repos objects while the registry fails 20%
// of all requests (503, 500, resets before and during the body), chosen with a
// fixed seed; the seed fixes the sequence of faults, while which request meets
// which depends on the workers' interleaving. Every object must become Ready,
// within the request bound. Then, with the faults still on, every object is
// asked for one more re-check with the requested-at annotation: every object
// must handle it and be Ready again, with the digest it had. Throughout, no
// status update may lose or change a digest once resolved.
//
// finder is the reconciler's finder: plain manifests.Resolve, or the shared
// finder the manager runs (manifests.NewShared), both with millisecond retries.
func testConvergence(t *testing.T, env *testenv.Env, finder Finder, repos int) {
	reg := testregistry.New(t, testregistry.Options{})
	front := faultproxy.New(t, reg.URL(), faultproxy.Options{})
	push := func(repos, tags int, prefix string) {
		for i := range repos {
			for j := range tags {
				img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{fmt.Sprintf("%s %d %d", prefix, i, j)}})
				reg.PushImage(t, fmt.Sprintf("%s/app%d", prefix, i), fmt.Sprintf("v%d", j), img)
			}
		}
	}
	push(1, 10, "calibration")
	push(repos, 10, "fleet")

	// The manager watches only its two namespaces, so that other suites can run meanwhile.
	namespaces := map[string]string{"calibration": newNamespace(t, env.Client), "fleet": newNamespace(t, env.Client)}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 2000, 4000
	mgr, err := ctrl.NewManager(&cfg, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{namespaces["calibration"]: {}, namespaces["fleet"]: {}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Finder: finder, Recorder: &recorder{},
		AllowInsecureRegistries: true, Transport: front.Transport(), Sessions: manifests.NewSessions(time.Hour, 1000)}
	if err := r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 32, RetryBaseDelay: 20 * time.Millisecond, RetryMaxDelay: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// watch follows the status updates of the n objects of ns and returns a wait
	// function, which blocks until every object's latest status satisfies settled
	// and returns the digest losses seen meanwhile. The manager's informer sees
	// every status update (it re-lists when a watch breaks); an update that drops
	// or changes a resolved digest is a loss.
	watch := func(ns string, n int, settled func(*imagesv1alpha1.ImageConfig) bool) (wait func(what string) (lost []string)) {
		var mu sync.Mutex
		var lost []string
		state, summary := map[string]bool{}, map[string]string{}
		count := 0
		all := make(chan struct{})
		closed := all
		inf, err := mgr.GetCache().GetInformer(ctx, &imagesv1alpha1.ImageConfig{})
		if err != nil {
			t.Fatal(err)
		}
		handler, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: func(oldObj, newObj any) {
			old, o := oldObj.(*imagesv1alpha1.ImageConfig), newObj.(*imagesv1alpha1.ImageConfig)
			if o.Namespace != ns {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if old.Status.Digest != "" && o.Status.Digest != old.Status.Digest {
				lost = append(lost, fmt.Sprintf("%s: %s -> %q (%s)", o.Name, old.Status.Digest, o.Status.Digest, conditionSummary(o)))
			}
			summary[o.Name] = fmt.Sprintf("%s: lastHandledReconcileAt %q, %s", o.Name, o.Status.LastHandledReconcileAt, conditionSummary(o))
			if now := settled(o); now != state[o.Name] {
				if state[o.Name] = now; now {
					count++
				} else {
					count--
				}
				if count == n && all != nil {
					close(all)
					all = nil
				}
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		return func(what string) []string {
			defer func() { _ = inf.RemoveEventHandler(handler) }()
			select {
			case <-closed:
			case <-time.After(90 * time.Second):
				mu.Lock()
				defer mu.Unlock()
				var unsettled []string
				for name, s := range summary {
					if !state[name] && len(unsettled) < 5 {
						unsettled = append(unsettled, s)
					}
				}
				t.Fatalf("%d of %d objects %s after 90s (%v); %d status updates lost or changed a resolved digest meanwhile: %v",
					count, n, what, unsettled, len(lost), lost[:min(len(lost), 5)])
			}
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), lost...)
		}
	}
	isReady := func(o *imagesv1alpha1.ImageConfig) bool {
		return apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition)
	}

	// fleet creates n objects over repos × tags in its namespace and waits until
	// all are Ready; it returns the registry requests that took, and the digest
	// losses seen by the watch.
	fleet := func(prefix string, n, repos, tags int) (requests int, lost []string) {
		ns := namespaces[prefix]
		wait := watch(ns, n, isReady)
		front.Reset()
		var creates sync.WaitGroup
		for k := range 8 {
			creates.Go(func() {
				for i := k; i < n; i += 8 {
					o := &imagesv1alpha1.ImageConfig{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("obj-%04d", i), Namespace: ns},
						Spec: imagesv1alpha1.ImageConfigSpec{Registry: front.Host(), Repository: fmt.Sprintf("%s/app%d", prefix, i%repos),
							Tag: fmt.Sprintf("v%d", (i/repos)%tags), Insecure: true},
					}
					if err := env.Client.Create(ctx, o); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		creates.Wait()
		lost = wait("Ready")
		return len(front.Requests()), lost
	}

	start := time.Now()
	calibration, lost := fleet("calibration", 100, 1, 10)
	c0 := repos * calibration
	calibrated := time.Since(start)
	if len(lost) > 0 {
		t.Fatalf("digests lost without faults: %v", lost)
	}
	front.SetRules(faultproxy.Rule{Name: "random", Fault: faultproxy.Random(convergenceSeed, convergenceFailRate,
		faultproxy.Status(http.StatusServiceUnavailable, "", nil), faultproxy.Status(http.StatusInternalServerError, "", nil),
		faultproxy.ResetAfter(-1), faultproxy.ResetAfter(10))})
	isFailed := func(q faultproxy.Request) bool { return q.Status == 0 || q.Status >= 500 || q.BodyBytes == 10 }
	// recheck asks every object of ns, all Ready, for one more re-check with the
	// requested-at annotation (which must ask the registry) while the faults are
	// on: once Ready, an object is not re-checked within its 1h interval, so only
	// this shows whether a faulted re-check keeps the digest. Every object must
	// handle the request and be Ready again with the digest it had.
	recheck := func(ns string) {
		var before imagesv1alpha1.ImageConfigList
		if err := env.Client.List(ctx, &before, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		digests := map[string]string{}
		for _, o := range before.Items {
			digests[o.Name] = o.Status.Digest
		}
		const round = "convergence-round-2"
		wait := watch(ns, len(before.Items), func(o *imagesv1alpha1.ImageConfig) bool {
			return o.Status.LastHandledReconcileAt == round && isReady(o)
		})
		front.Reset()
		roundStart := time.Now()
		patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, imagesv1alpha1.ReconcileRequestAnnotation, round))
		var patches sync.WaitGroup
		for k := range 8 {
			patches.Go(func() {
				for i := k; i < len(before.Items); i += 8 {
					if err := mgr.GetClient().Patch(ctx, &before.Items[i], patch); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		patches.Wait()
		patched := time.Since(roundStart)
		lost := wait("handled the requested re-check and Ready")
		failed := front.Count(isFailed)
		t.Logf("requested re-check of %d objects under faults: %d requests (%d failed) in %s (%s to annotate)",
			len(before.Items), len(front.Requests()), failed, time.Since(roundStart).Round(time.Millisecond), patched.Round(time.Millisecond))
		if failed == 0 {
			t.Error("no request of the re-check round failed: the round did not test a faulted re-check")
		}
		if len(lost) > 0 {
			t.Errorf("re-check round: %d status updates lost or changed a resolved digest: %v", len(lost), lost[:min(len(lost), 5)])
		}
		var after imagesv1alpha1.ImageConfigList
		if err := env.Client.List(ctx, &after, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, o := range after.Items {
			if o.Status.Digest != digests[o.Name] || !isReady(&o) {
				t.Errorf("%s after the re-check round: digest %q (was %q), %s", o.Name, o.Status.Digest, digests[o.Name], conditionSummary(&o))
			}
		}
	}

	// The 100 calibration objects are re-checked under the faults, before the
	// fleet, and the 1,000 fleet objects after it. The fleet's round found a real
	// bug: a retry that read a stale cache (missing its own failed attempt's
	// write) computed a merge patch that left out Ready, so a success kept
	// Ready=False until the next interval. Status patches now carry the
	// resourceVersion (patchStatus).
	recheck(namespaces["calibration"])
	faultStart := time.Now()
	requests, lost := fleet("fleet", 100*repos, repos, 10)
	failed := front.Count(isFailed)
	bound := int(float64(c0) / (1 - convergenceFailRate) * convergenceSafety)
	t.Logf("calibration: 100 objects over 10 tags in %d requests, so C0 = %d for %d over %d; under faults: %d requests (%d failed), bound %d (C0 × 1/(1−%.1f) × %.1f); %s without faults, %s with",
		calibration, c0, 100*repos, 10*repos, requests, failed, bound, convergenceFailRate, convergenceSafety, calibrated.Round(time.Millisecond), time.Since(faultStart).Round(time.Millisecond))
	if requests > bound {
		t.Errorf("%d registry requests, over the bound %d (C0 = %d × 1/(1−%.1f) × %.1f)", requests, bound, c0, convergenceFailRate, convergenceSafety)
	}
	if failed == 0 {
		t.Error("no request failed: the fault rule did not apply")
	}
	if len(lost) > 0 {
		t.Errorf("%d status updates lost or changed a resolved digest: %v", len(lost), lost[:min(len(lost), 5)])
	}
	recheck(namespaces["fleet"])
}
