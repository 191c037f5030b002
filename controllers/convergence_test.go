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
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/faultproxy"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// Convergence under failure. The bound on registry requests is derived from the
// code in use, not hard-coded: a calibration fleet of the same shape, a tenth of
// the size (100 objects over 10 tags of one repository, against 1,000 over 100
// tags of 10 repositories), is resolved without faults first, which gives the
// first-resolution cost C0 = 10 × its requests. With a fraction p = 0.2 of
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

// testConvergence runs a manager over 1,000 objects while the registry fails 20%
// of all requests (503, 500, resets before and during the body), chosen with a
// fixed seed; the seed fixes the sequence of faults, while which request meets
// which depends on the workers' interleaving. Every object must become Ready,
// within the request bound, and no status update may lose or change a digest
// once resolved.
func testConvergence(t *testing.T, env *testenv.Env) {
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
	push(10, 10, "fleet")

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
	r := &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Finder: fastFinder, Recorder: &recorder{},
		AllowInsecureRegistries: true, Transport: front.Transport(), Sessions: manifests.NewSessions(time.Hour, 1000)}
	if err := r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 32, RetryBaseDelay: 20 * time.Millisecond, RetryMaxDelay: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// fleet creates n objects over repos × tags in a new namespace and waits until
	// all are Ready; it returns the registry requests that took, and the digest
	// losses seen by a watch.
	fleet := func(prefix string, n, repos, tags int) (requests int, lost []string) {
		ns := namespaces[prefix]
		var mu sync.Mutex
		ready := map[string]bool{}
		allReady := make(chan struct{})
		// The manager's informer sees every status update (it re-lists when a watch
		// breaks); an update that drops or changes a resolved digest is a loss.
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
			if !ready[o.Name] && apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition) {
				if ready[o.Name] = true; len(ready) == n {
					close(allReady)
				}
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = inf.RemoveEventHandler(handler) }()
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
		select {
		case <-allReady:
		case <-time.After(90 * time.Second):
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%d of %d objects Ready after 90s", len(ready), n)
		}
		mu.Lock()
		defer mu.Unlock()
		return len(front.Requests()), append([]string(nil), lost...)
	}

	start := time.Now()
	calibration, lost := fleet("calibration", 100, 1, 10)
	c0 := 10 * calibration
	if len(lost) > 0 {
		t.Fatalf("digests lost without faults: %v", lost)
	}
	front.SetRules(faultproxy.Rule{Name: "random", Fault: faultproxy.Random(convergenceSeed, convergenceFailRate,
		faultproxy.Status(http.StatusServiceUnavailable, "", nil), faultproxy.Status(http.StatusInternalServerError, "", nil),
		faultproxy.ResetAfter(-1), faultproxy.ResetAfter(10))})
	faultStart := time.Now()
	requests, lost := fleet("fleet", 1000, 10, 10)
	failed := front.Count(func(q faultproxy.Request) bool { return q.Status == 0 || q.Status >= 500 || q.BodyBytes == 10 })
	bound := int(float64(c0) / (1 - convergenceFailRate) * convergenceSafety)
	t.Logf("calibration: 100 objects over 10 tags in %d requests, so C0 = %d for 1,000 over 100; under faults: %d requests (%d failed), bound %d (C0 × 1/(1−%.1f) × %.1f); %s without faults, %s with",
		calibration, c0, requests, failed, bound, convergenceFailRate, convergenceSafety, faultStart.Sub(start).Round(time.Millisecond), time.Since(faultStart).Round(time.Millisecond))
	if requests > bound {
		t.Errorf("%d registry requests, over the bound %d", requests, bound)
	}
	if failed == 0 {
		t.Error("no request failed: the fault rule did not apply")
	}
	if len(lost) > 0 {
		t.Errorf("%d status updates lost or changed a resolved digest: %v", len(lost), lost[:min(len(lost), 5)])
	}
}
