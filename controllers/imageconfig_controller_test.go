package controllers

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/v1/types"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// harness drives the reconciler by hand, one Reconcile call at a time, against a
// real API server and an in-process registry.
type harness struct {
	t       *testing.T
	c       client.Client
	r       *ImageConfigReconciler
	rec     *recorder
	reg     *testregistry.Registry
	ns      string
	images  map[string]string // platform -> manifest digest
	configs map[string]string // platform -> config digest
	index   string
}

func newHarness(t *testing.T, env *testenv.Env) *harness {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, imgs := testregistry.MultiArch(t)
	h := &harness{t: t, c: env.Client, rec: &recorder{}, reg: reg, ns: newNamespace(t, env.Client), images: map[string]string{}, configs: map[string]string{}}
	h.index = reg.PushIndex(t, "demo/hello", "1.0", idx).String()
	for p, img := range imgs {
		d, _ := img.Digest()
		h.images[p] = d.String()
		c, _ := img.ConfigName()
		h.configs[p] = c.String()
	}
	h.r = &ImageConfigReconciler{Client: env.Client, Recorder: h.rec, AllowInsecureRegistries: true, Finder: RegistryFinder}
	return h
}

func (h *harness) create(name string, mutate func(*imagesv1alpha1.ImageConfigSpec)) *imagesv1alpha1.ImageConfig {
	h.t.Helper()
	obj := &imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: imagesv1alpha1.ImageConfigSpec{
			Registry: h.reg.Host(), Repository: "demo/hello", Tag: "1.0", Insecure: true,
			Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm", Variant: "v7"},
		},
	}
	if mutate != nil {
		mutate(&obj.Spec)
	}
	if err := h.c.Create(context.Background(), obj); err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return obj
}

// reconcile runs one Reconcile and returns the result and the object as stored.
func (h *harness) reconcile(obj *imagesv1alpha1.ImageConfig) (ctrl.Result, error, *imagesv1alpha1.ImageConfig) {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	got := &imagesv1alpha1.ImageConfig{}
	if gerr := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), got); gerr != nil {
		h.t.Fatalf("get: %v", gerr)
	}
	return res, err, got
}

func (h *harness) update(obj *imagesv1alpha1.ImageConfig, mutate func(*imagesv1alpha1.ImageConfig)) {
	h.t.Helper()
	cur := &imagesv1alpha1.ImageConfig{}
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err != nil {
		h.t.Fatal(err)
	}
	mutate(cur)
	if err := h.c.Update(context.Background(), cur); err != nil {
		h.t.Fatalf("update: %v", err)
	}
}

func (h *harness) forceRecheck(obj *imagesv1alpha1.ImageConfig, value string) {
	h.update(obj, func(o *imagesv1alpha1.ImageConfig) {
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[imagesv1alpha1.ReconcileRequestAnnotation] = value
	})
}

func TestReconciler(t *testing.T) {
	env := controlPlane.Get(t)

	t.Run("resolves and fills every status field", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("hello", nil)
		res, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		if res.RequeueAfter != recheckInterval(got) || res.RequeueAfter < time.Hour || res.RequeueAfter > 66*time.Minute {
			t.Errorf("RequeueAfter = %s, want the 1h interval with this object's jitter (%s)", res.RequeueAfter, recheckInterval(got))
		}
		ref := h.reg.Host() + "/demo/hello:1.0"
		wantConditions := []metav1.Condition{{Type: imagesv1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: imagesv1alpha1.ResolvedReason,
			Message: "Resolved " + ref + " to " + h.index + " for linux/arm/v7", ObservedGeneration: got.Generation}}
		if diff := cmp.Diff(wantConditions, got.Status.Conditions, ignoreTransitionTime); diff != "" {
			t.Fatalf("conditions (-want +got):\n%s", diff)
		}
		// The values this test knows exactly, and every other field empty; the
		// config, layers and platforms, which mirror the image, are checked below.
		want := imagesv1alpha1.ImageConfigStatus{
			ObservedGeneration: got.Generation, RequestedImageRef: ref, RequestedPlatform: "linux/arm/v7",
			ImageRef: ref, Digest: h.index, MediaType: string(types.OCIImageIndex),
			ManifestDigest: h.images["linux/arm/v7"], ConfigDigest: h.configs["linux/arm/v7"], Platform: "linux/arm/v7",
			LayerCount: 3, AuthSource: "anonymous",
		}
		st := got.Status
		if diff := cmp.Diff(want, st, cmpopts.IgnoreFields(imagesv1alpha1.ImageConfigStatus{},
			"Conditions", "Platforms", "Config", "Layers", "TotalSize", "LastCheckedTime", "LastChangedTime")); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
		if len(st.Platforms) != 8 {
			t.Errorf("%d platforms, want the index's 8: %+v", len(st.Platforms), st.Platforms)
		}
		if st.Config == nil || !contains(st.Config.Env, "PLATFORM=linux/arm/v7") || st.Config.Labels["testregistry.platform"] != "linux/arm/v7" || len(st.Config.Cmd) == 0 || st.Config.User == "" || len(st.Config.ExposedPorts) != 2 {
			t.Errorf("config = %+v", st.Config)
		}
		if len(st.Layers) != 3 || st.TotalSize == 0 || !strings.HasPrefix(st.Layers[0].CreatedBy, "RUN ") {
			t.Errorf("layers = %+v (total %d)", st.Layers, st.TotalSize)
		}
		if st.LastCheckedTime == nil || st.LastChangedTime == nil {
			t.Errorf("lastCheckedTime = %v, lastChangedTime = %v", st.LastCheckedTime, st.LastChangedTime)
		}
		if evs := h.rec.of(obj); len(evs) != 0 {
			t.Errorf("events = %+v, want none: a first resolution is no transition", evs)
		}
	})

	t.Run("re-check costs one HEAD, a moved tag shows up in status and as an event", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("recheck", nil)
		if _, err, _ := h.reconcile(obj); err != nil {
			t.Fatal(err)
		}
		log := h.reg.Log()

		// Not due yet: the registry is not contacted at all.
		log.Reset()
		res, err, _ := h.reconcile(obj)
		if err != nil || len(log.Requests()) != 0 || res.RequeueAfter <= 59*time.Minute {
			t.Fatalf("early reconcile: err=%v requests=%d requeueAfter=%s\n%s", err, len(log.Requests()), res.RequeueAfter, log)
		}

		// A forced re-check of an unchanged tag: one HEAD, no GET.
		log.Reset()
		h.forceRecheck(obj, "1")
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(testregistry.Counts{ManifestHEADs: 1}, log.Counts(), ignoreHandshake); diff != "" {
			t.Fatalf("unchanged re-check: one HEAD and no GET (-want +got):\n%s\n%s", diff, log)
		}
		if got.Status.LastHandledReconcileAt != "1" || got.Status.Digest != h.index {
			t.Errorf("lastHandledReconcileAt = %q, digest = %s", got.Status.LastHandledReconcileAt, got.Status.Digest)
		}
		changedBefore := got.Status.LastChangedTime

		// The tag moves.
		img := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm", Variant: "v7", Layers: []string{"v2"}})
		moved := h.reg.PushImage(t, "demo/hello", "1.0", img).String()
		time.Sleep(1100 * time.Millisecond) // metav1.Time has second precision
		h.forceRecheck(obj, "2")
		_, err, got = h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Digest != moved || got.Status.ManifestDigest != moved || got.Status.LayerCount != 1 || len(got.Status.Platforms) != 0 {
			t.Errorf("after move: digest=%s manifest=%s layers=%d platforms=%d, want %s", got.Status.Digest, got.Status.ManifestDigest, got.Status.LayerCount, len(got.Status.Platforms), moved)
		}
		if !got.Status.LastChangedTime.After(changedBefore.Time) {
			t.Errorf("lastChangedTime did not move: %v -> %v", changedBefore, got.Status.LastChangedTime)
		}
		want := "tag 1.0 moved " + compare.ShortDigest(h.index) + " → " + compare.ShortDigest(moved) + ": "
		var found bool
		for _, e := range h.rec.of(obj) {
			if e.reason == "DigestChanged" {
				found = strings.HasPrefix(e.note, want) && e.eventType == "Normal"
			}
		}
		if !found {
			t.Errorf("no Normal DigestChanged event %q in %+v", want, h.rec.of(obj))
		}
	})

	t.Run("an outage keeps what was resolved", func(t *testing.T) {
		longScenario(t)
		h := newHarness(t, env)
		obj := h.create("outage", nil)
		_, _, before := h.reconcile(obj)
		if c := ready(before); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("not Ready: %s", conditionSummary(before))
		}
		h.reg.SetFault(testregistry.FailRequests("", "", http.StatusServiceUnavailable, 0, nil))
		for i := range 2 {
			h.forceRecheck(obj, "outage-"+string(rune('a'+i)))
			_, err, got := h.reconcile(obj)
			if err == nil {
				t.Fatalf("Reconcile returned no error for an outage; the controller would not back off")
			}
			c := ready(got)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Unavailable" || !apimeta.IsStatusConditionTrue(got.Status.Conditions, "Reconciling") || apimeta.IsStatusConditionTrue(got.Status.Conditions, "Stalled") {
				t.Fatalf("conditions = %s, want Ready=False/Unavailable, Reconciling=True", conditionSummary(got))
			}
			if diff := cmp.Diff(resolvedStatus(before.Status), resolvedStatus(got.Status)); diff != "" {
				t.Fatalf("status lost data in the outage (-before +after):\n%s", diff)
			}
			if g := got.Status; g.ObservedGeneration != got.Generation {
				t.Errorf("observedGeneration = %d, want %d: the retried generation", g.ObservedGeneration, got.Generation)
			}
		}
		var warnings int
		for _, e := range h.rec.of(obj) {
			if e.eventType == "Warning" {
				warnings++
			}
		}
		if warnings != 1 {
			t.Errorf("%d Warning events for two failed retries, want 1: %+v", warnings, h.rec.of(obj))
		}
	})

	t.Run("terminal errors stall and wait for the interval", func(t *testing.T) {
		tests := []struct {
			name, reason, msg string
			mutate            func(*imagesv1alpha1.ImageConfigSpec)
			// requested is the image and platform the failing object must still show.
			requestedRef, requestedPlatform string
		}{
			{"unknown tag", "NotFound", "nope", func(s *imagesv1alpha1.ImageConfigSpec) { s.Tag = "nope" }, "/demo/hello:nope", "linux/arm/v7"},
			{"platform not in the index", "PlatformNotFound", "available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/s390x, windows/amd64",
				func(s *imagesv1alpha1.ImageConfigSpec) {
					s.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "ppc64le"}
				}, "/demo/hello:1.0", "linux/ppc64le"},
			{"unknown repository, platform alias", "NotFound", "demo/missing",
				func(s *imagesv1alpha1.ImageConfigSpec) {
					s.Repository = "demo/missing"
					s.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "aarch64"}
				}, "/demo/missing:1.0", "linux/arm64/v8"},
		}
		h := newHarness(t, env)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				obj := h.create("terminal-"+string(rune('a'+i)), tt.mutate)
				res, err, got := h.reconcile(obj)
				if err != nil {
					t.Fatalf("Reconcile returned %v; a terminal error must not be retried with backoff", err)
				}
				if res.RequeueAfter != time.Hour {
					t.Errorf("RequeueAfter = %s, want the interval", res.RequeueAfter)
				}
				c := ready(got)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.reason || !strings.Contains(c.Message, tt.msg) {
					t.Fatalf("Ready = %+v, want False/%s containing %q", c, tt.reason, tt.msg)
				}
				if s := apimeta.FindStatusCondition(got.Status.Conditions, "Stalled"); s == nil || s.Status != metav1.ConditionTrue || s.Reason != tt.reason {
					t.Errorf("Stalled = %+v", s)
				}
				// The generation acted on, and what the failing object asks for;
				// nothing resolved.
				want := imagesv1alpha1.ImageConfigStatus{ObservedGeneration: got.Generation,
					RequestedImageRef: h.reg.Host() + tt.requestedRef, RequestedPlatform: tt.requestedPlatform}
				if diff := cmp.Diff(want, got.Status, cmpopts.IgnoreFields(imagesv1alpha1.ImageConfigStatus{}, "Conditions", "LastCheckedTime")); diff != "" {
					t.Errorf("status (-want +got):\n%s", diff)
				}
				if s := apimeta.FindStatusCondition(got.Status.Conditions, "Stalled"); s == nil || s.ObservedGeneration != got.Generation {
					t.Errorf("the Stalled condition does not carry generation %d: %+v", got.Generation, s)
				}
			})
		}
	})

	t.Run("rate limited waits for Retry-After, capped at the interval", func(t *testing.T) {
		longScenario(t)
		h := newHarness(t, env)
		for i, tt := range []struct {
			retryAfter string
			want       time.Duration
		}{{"7", 7 * time.Second}, {"7200", time.Hour}} {
			h.reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/*/*/manifests/*", http.StatusTooManyRequests, 0, http.Header{"Retry-After": {tt.retryAfter}}))
			obj := h.create("limited-"+string(rune('a'+i)), nil)
			res, err, got := h.reconcile(obj)
			if err != nil || res.RequeueAfter != tt.want {
				t.Errorf("Retry-After %s: err=%v RequeueAfter=%s, want %s", tt.retryAfter, err, res.RequeueAfter, tt.want)
			}
			if c := ready(got); c == nil || c.Reason != "RateLimited" {
				t.Errorf("Ready = %+v, want RateLimited", c)
			}
		}
	})

	t.Run("suspend makes no registry request", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("suspended", func(s *imagesv1alpha1.ImageConfigSpec) { s.Suspend = true })
		res, err, got := h.reconcile(obj)
		if err != nil || res.RequeueAfter != 0 || len(h.reg.Log().Requests()) != 0 {
			t.Fatalf("err=%v requeue=%s requests=%d", err, res.RequeueAfter, len(h.reg.Log().Requests()))
		}
		if c := ready(got); c == nil || c.Status != metav1.ConditionUnknown || c.Reason != "Suspended" {
			t.Errorf("Ready = %+v, want Unknown/Suspended", c)
		}
	})

	t.Run("insecure needs --allow-insecure-registries", func(t *testing.T) {
		h := newHarness(t, env)
		h.r.AllowInsecureRegistries = false
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		h.r.Metrics = m
		obj := h.create("insecure", nil)
		_, err, got := h.reconcile(obj)
		if err != nil || len(h.reg.Log().Requests()) != 0 {
			t.Fatalf("err=%v requests=%d", err, len(h.reg.Log().Requests()))
		}
		if n, all, d := resolutionsOf(t, m, "InsecureNotAllowed"), resolutionsTotal(t, m), histogramCount(t, m); n != 1 || all != 1 || d != 0 {
			t.Errorf("imageconfig_resolutions_total{result=\"InsecureNotAllowed\"} = %v (of %v), %d durations; want 1 of 1, none", n, all, d)
		}
		if c := ready(got); c == nil || c.Reason != "InsecureNotAllowed" || !strings.Contains(c.Message, "--allow-insecure-registries") {
			t.Errorf("Ready = %+v", c)
		}
		if st := got.Status; st.RequestedImageRef != h.reg.Host()+"/demo/hello:1.0" || st.RequestedPlatform != "linux/arm/v7" {
			t.Errorf("requested = %q %q: an object refused before any request still shows what it asks for", st.RequestedImageRef, st.RequestedPlatform)
		}
	})

	t.Run("a platform edit re-resolves without the previous result", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("edit", nil)
		_, _, _ = h.reconcile(obj)
		h.update(obj, func(o *imagesv1alpha1.ImageConfig) {
			o.Spec.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "s390x"}
		})
		h.reg.Log().Reset()
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.ManifestDigest != h.images["linux/s390x"] || got.Status.ConfigDigest != h.configs["linux/s390x"] || got.Status.Platform != "linux/s390x" || got.Status.ObservedGeneration != 2 {
			t.Errorf("manifestDigest=%s configDigest=%s platform=%s observedGeneration=%d", got.Status.ManifestDigest, got.Status.ConfigDigest, got.Status.Platform, got.Status.ObservedGeneration)
		}
		// No HEAD: the index and the new platform's manifest and config are fetched.
		if diff := cmp.Diff(testregistry.Counts{ManifestGETs: 2, BlobGETs: 1}, h.reg.Log().Counts(), ignoreHandshake); diff != "" {
			t.Errorf("requests after a platform edit (-want +got):\n%s\n%s", diff, h.reg.Log())
		}
	})
}

// TestManager runs the reconciler in a manager: watches, predicates, the rate
// limiter and events working together. Its subtests run in parallel, each with its
// own registry, so that their waits overlap.
func TestManager(t *testing.T) {
	env := controlPlane.Get(t)
	ctx := context.Background()

	// Each subtest has a namespace of its own, made before the manager starts:
	// its cache holds only these.
	const subtests = 7
	namespaces := make(chan string, subtests)
	var all []string
	for range subtests {
		ns := newNamespace(t, env.Client)
		namespaces <- ns
		all = append(all, ns)
	}
	up := newNamespace(t, env.Client)
	finder := &countingFinder{}
	rec := &recorder{}
	var r *ImageConfigReconciler
	startManager(t, env, ctrl.Options{}, func(mgr ctrl.Manager) error {
		r = &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Finder: finder, Recorder: rec, AllowInsecureRegistries: true,
			Sessions: manifests.NewSessions(time.Minute, 100)}
		return r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 8, RetryBaseDelay: 200 * time.Millisecond, RetryMaxDelay: time.Second})
	}, append(all, up)...)
	// The manager is up, its watches started in every namespace, once it has
	// handled an object; "deletion leaves nothing behind" counts goroutines
	// from then on. A suspended object asks no registry.
	sentinel := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: "manager-up", Namespace: up},
		Spec: imagesv1alpha1.ImageConfigSpec{Repository: "demo/hello", Suspend: true}}
	if err := env.Client.Create(ctx, sentinel); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func() *metav1.Condition {
		o := &imagesv1alpha1.ImageConfig{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(sentinel), o)
		return ready(o)
	}, 30*time.Second, 50*time.Millisecond).ShouldNot(BeNil(), "the manager did not handle an object")

	type fixture struct {
		g     *WithT
		reg   *testregistry.Registry
		ns    string
		index string
	}
	setup := func(t *testing.T) *fixture {
		t.Parallel()
		var ns string
		select {
		case ns = <-namespaces:
		default:
			t.Fatalf("TestManager has more than %d subtests: raise subtests", subtests)
		}
		reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
		idx, _ := testregistry.MultiArch(t)
		return &fixture{NewWithT(t), reg, ns, reg.PushIndex(t, "demo/hello", "1.0", idx).String()}
	}
	get := func(f *fixture, name string) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{}
		f.g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, o)).To(Succeed())
		return o
	}
	create := func(f *fixture, name string, mutate func(*imagesv1alpha1.ImageConfigSpec)) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
			Spec:       imagesv1alpha1.ImageConfigSpec{Registry: f.reg.Host(), Repository: "demo/hello", Tag: "1.0", Insecure: true},
		}
		if mutate != nil {
			mutate(&o.Spec)
		}
		f.g.Expect(env.Client.Create(ctx, o)).To(Succeed())
		return o
	}
	readyReason := func(f *fixture, name string) func() string {
		return func() string {
			c := ready(get(f, name))
			if c == nil {
				return ""
			}
			return string(c.Status) + "/" + c.Reason
		}
	}
	tenSeconds := &metav1.Duration{Duration: 10 * time.Second}

	t.Run("no feedback loop: about one HEAD per interval", func(t *testing.T) {
		longScenario(t)
		f := setup(t)
		obj := create(f, "steady", func(s *imagesv1alpha1.ImageConfigSpec) { s.Interval = tenSeconds })
		f.g.Eventually(readyReason(f, "steady"), 30*time.Second, 100*time.Millisecond).Should(Equal("True/Resolved"))
		f.reg.Log().Reset()
		time.Sleep(30 * time.Second)
		heads, gets := f.reg.Log().ManifestHEADs(), f.reg.Log().ManifestGETs()+f.reg.Log().BlobGETs()
		f.g.Expect(heads).To(BeNumerically(">=", 2), "the interval did not re-check")
		f.g.Expect(heads).To(BeNumerically("<=", 4), "feedback loop: %d HEADs in 30s with a 10s interval", heads)
		f.g.Expect(gets).To(Equal(0), "an unchanged tag was downloaded again")
		f.g.Expect(f.reg.Log().Pings()+f.reg.Log().Tokens()).To(Equal(0), "re-checks repeated the handshake despite the session cache:\n%s", f.reg.Log())
		f.g.Expect(rec.of(obj)).To(BeEmpty(), "events: %+v", rec.of(obj)) // no transition
	})

	t.Run("a moved tag shows up within one interval", func(t *testing.T) {
		longScenario(t)
		f := setup(t)
		obj := create(f, "mover", func(s *imagesv1alpha1.ImageConfigSpec) { s.Interval = tenSeconds })
		f.g.Eventually(readyReason(f, "mover"), 30*time.Second, 100*time.Millisecond).Should(Equal("True/Resolved"))
		changed := get(f, "mover").Status.LastChangedTime
		time.Sleep(1100 * time.Millisecond)
		moved := f.reg.PushImage(t, "demo/hello", "1.0", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"new"}})).String()
		f.g.Eventually(func() string { return get(f, "mover").Status.Digest }, 15*time.Second, 200*time.Millisecond).Should(Equal(moved))
		f.g.Expect(get(f, "mover").Status.LastChangedTime.After(changed.Time)).To(BeTrue(), "lastChangedTime did not advance")
		want := "tag 1.0 moved " + compare.ShortDigest(f.index) + " → " + compare.ShortDigest(moved) + ": "
		f.g.Eventually(func() []string {
			var notes []string
			for _, e := range rec.of(obj) {
				if e.eventType == "Normal" && e.reason == "DigestChanged" {
					notes = append(notes, e.note)
				}
			}
			return notes
		}, 5*time.Second).Should(ContainElement(HavePrefix(want)))
	})

	t.Run("the registry stops, then comes back", func(t *testing.T) {
		longScenario(t)
		f := setup(t)
		create(f, "outage", nil)
		f.g.Eventually(readyReason(f, "outage"), 30*time.Second, 100*time.Millisecond).Should(Equal("True/Resolved"))
		before := get(f, "outage").Status
		f.reg.SetFault(testregistry.FailRequests("", "", http.StatusServiceUnavailable, 0, nil))
		o := get(f, "outage")
		o.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "down"}
		f.g.Expect(env.Client.Update(ctx, o)).To(Succeed())
		f.g.Eventually(readyReason(f, "outage"), 30*time.Second, 100*time.Millisecond).Should(Equal("False/Unavailable"))
		during := get(f, "outage").Status
		f.g.Expect(during.Digest).To(Equal(before.Digest))
		f.g.Expect(during.ConfigDigest).To(Equal(before.ConfigDigest))
		f.g.Expect(during.Layers).To(HaveLen(len(before.Layers)))
		f.g.Expect(during.Config).NotTo(BeNil())
		// Backoff, not a storm. Each attempt spends about 4s in go-containerregistry's own
		// retries of the 503, then waits 200ms doubling to 1s: one or two attempts in 8s.
		start := finder.count(f.reg.Host(), "demo/hello")
		time.Sleep(8 * time.Second)
		attempts := finder.count(f.reg.Host(), "demo/hello") - start
		f.g.Expect(attempts).To(And(BeNumerically(">=", 1), BeNumerically("<=", 4)), "%d attempts in 8s", attempts)
		f.reg.SetFault(nil)
		f.g.Eventually(readyReason(f, "outage"), 30*time.Second, 100*time.Millisecond).Should(Equal("True/Resolved"))
		f.g.Expect(get(f, "outage").Status.Digest).To(Equal(before.Digest))
	})

	t.Run("a missing platform stalls without a loop", func(t *testing.T) {
		longScenario(t)
		f := setup(t)
		create(f, "ppc", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "ppc64le"}
		})
		f.g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get(f, "ppc").Status.Conditions, "Stalled") }, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
		f.g.Expect(ready(get(f, "ppc")).Reason).To(Equal("PlatformNotFound"))
		time.Sleep(30 * time.Second)
		f.g.Expect(len(f.reg.Log().Requests())).To(BeNumerically("<=", 3), "requests in 30s:\n%s", f.reg.Log())
	})

	t.Run("a platform edit re-resolves and observedGeneration follows", func(t *testing.T) {
		f := setup(t)
		create(f, "edit", nil)
		f.g.Eventually(readyReason(f, "edit"), 30*time.Second, 100*time.Millisecond).Should(Equal("True/Resolved"))
		o := get(f, "edit")
		o.Spec.Platform = imagesv1alpha1.PlatformSpec{OS: "windows", Architecture: "amd64"}
		f.g.Expect(env.Client.Update(ctx, o)).To(Succeed())
		f.g.Eventually(func() string {
			o := get(f, "edit")
			return fmt.Sprintf("%d %d %s", o.Generation, o.Status.ObservedGeneration, o.Status.Platform)
		}, 30*time.Second, 100*time.Millisecond).Should(Equal("2 2 windows/amd64"))
	})

	t.Run("bulk: 50 objects over 10 images", func(t *testing.T) {
		f := setup(t)
		for i := range 10 {
			img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{fmt.Sprintf("image %d", i)}})
			f.reg.PushImage(t, fmt.Sprintf("bulk/app%d", i), "v1", img)
		}
		for i := range 50 {
			create(f, fmt.Sprintf("bulk-%02d", i), func(s *imagesv1alpha1.ImageConfigSpec) { s.Repository = fmt.Sprintf("bulk/app%d", i%10); s.Tag = "v1" })
		}
		f.g.Eventually(func() int {
			list := &imagesv1alpha1.ImageConfigList{}
			f.g.Expect(env.Client.List(ctx, list, client.InNamespace(f.ns))).To(Succeed())
			n := 0
			for i := range list.Items {
				if apimeta.IsStatusConditionTrue(list.Items[i].Status.Conditions, "Ready") {
					n++
				}
			}
			return n
		}, 60*time.Second, 250*time.Millisecond).Should(Equal(50))
	})

	t.Run("deletion leaves nothing behind", func(t *testing.T) {
		f := setup(t)
		for i := range 20 {
			create(f, fmt.Sprintf("gone-%02d", i), func(s *imagesv1alpha1.ImageConfigSpec) {
				if i%2 == 0 { // half of them fail on a missing Secret, and are counted for backoff
					s.SecretRef = &imagesv1alpha1.LocalObjectReference{Name: "missing"}
				}
			})
		}
		// And some on a registry that refuses connections: a transient error,
		// retried through the rate limiter.
		down := testenv.FreeAddr(t)
		for i := range 3 {
			create(f, fmt.Sprintf("down-%d", i), func(s *imagesv1alpha1.ImageConfigSpec) { s.Registry = down })
		}
		limited := func() int {
			n := 0
			r.limiter.intervals.Range(func(k, _ any) bool {
				if k.(ctrl.Request).Namespace == f.ns {
					n++
				}
				return true
			})
			return n
		}
		g := runtime.NumGoroutine()
		f.g.Eventually(func() int { return finder.count(f.reg.Host(), "demo/hello") }, 30*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 10))
		f.g.Eventually(func() int { return countNamespace(&r.credentialFailures, f.ns) }, 30*time.Second, 100*time.Millisecond).Should(Equal(10))
		// Only the objects backing off through the limiter have their interval
		// recorded there: the resolved and the stalled ones hold no entry.
		f.g.Eventually(limited, 30*time.Second, 100*time.Millisecond).Should(Equal(3), "rate limiter entries")
		f.g.Consistently(limited, time.Second, 100*time.Millisecond).Should(Equal(3), "rate limiter entries")
		f.g.Expect(env.Client.DeleteAllOf(ctx, &imagesv1alpha1.ImageConfig{}, client.InNamespace(f.ns))).To(Succeed())
		f.g.Eventually(limited, 30*time.Second, 100*time.Millisecond).Should(Equal(0), "the rate limiter keeps entries of deleted objects")
		f.g.Expect(countNamespace(&r.credentialFailures, f.ns)).To(Equal(0), "the credential backoff keeps entries of deleted objects")
		// No goroutine per object outlives it (other subtests run meanwhile: allow slack).
		f.g.Eventually(runtime.NumGoroutine, 10*time.Second, 200*time.Millisecond).Should(BeNumerically("<=", g+20))
	})
}

// countNamespace counts the entries of a map keyed by NamespacedName in ns.
func countNamespace(m *sync.Map, ns string) int {
	n := 0
	m.Range(func(k, _ any) bool {
		if k.(k8stypes.NamespacedName).Namespace == ns {
			n++
		}
		return true
	})
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
