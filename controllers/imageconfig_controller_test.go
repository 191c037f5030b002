package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// harness drives the reconciler by hand, one Reconcile call at a time, against a
// real API server and an in-process registry.
type harness struct {
	t      *testing.T
	c      client.Client
	r      *ImageConfigReconciler
	rec    *recorder
	reg    *testregistry.Registry
	ns     string
	images map[string]string // platform -> manifest digest
	index  string
}

func newHarness(t *testing.T, env *testenv.Env) *harness {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, imgs := testregistry.MultiArch(t)
	h := &harness{t: t, c: env.Client, rec: &recorder{}, reg: reg, ns: newNamespace(t, env.Client), images: map[string]string{}}
	h.index = reg.PushIndex(t, "demo/hello", "1.0", idx).String()
	for p, img := range imgs {
		d, _ := img.Digest()
		h.images[p] = d.String()
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
	env := testenv.Start(t)

	t.Run("resolves and fills every status field", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("hello", nil)
		res, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		if res.RequeueAfter != time.Hour {
			t.Errorf("RequeueAfter = %s, want the 1h interval", res.RequeueAfter)
		}
		c := ready(got)
		wantMsg := "Resolved " + h.reg.Host() + "/demo/hello:1.0 to " + h.index + " for linux/arm/v7"
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Resolved" || c.Message != wantMsg {
			t.Fatalf("Ready = %+v, want True/Resolved/%q", c, wantMsg)
		}
		if len(got.Status.Conditions) != 1 {
			t.Errorf("conditions = %s, want only Ready", conditionSummary(got))
		}
		st := got.Status
		switch {
		case st.ObservedGeneration != got.Generation:
			t.Errorf("observedGeneration = %d, want %d", st.ObservedGeneration, got.Generation)
		case st.ImageRef != h.reg.Host()+"/demo/hello:1.0":
			t.Errorf("imageRef = %q", st.ImageRef)
		case st.Digest != h.index || st.MediaType != string(types.OCIImageIndex):
			t.Errorf("digest = %s %s", st.Digest, st.MediaType)
		case st.ManifestDigest != h.images["linux/arm/v7"] || st.Platform != "linux/arm/v7":
			t.Errorf("manifestDigest = %s, platform = %s", st.ManifestDigest, st.Platform)
		case st.ConfigDigest == "" || len(st.Platforms) != 8:
			t.Errorf("configDigest = %q, %d platforms", st.ConfigDigest, len(st.Platforms))
		case st.Config == nil || !contains(st.Config.Env, "PLATFORM=linux/arm/v7") || st.Config.Labels["testregistry.platform"] != "linux/arm/v7" || len(st.Config.Cmd) == 0 || st.Config.User == "" || len(st.Config.ExposedPorts) != 2:
			t.Errorf("config = %+v", st.Config)
		case st.LayerCount != 3 || len(st.Layers) != 3 || st.TotalSize == 0 || !strings.HasPrefix(st.Layers[0].CreatedBy, "RUN "):
			t.Errorf("layers = %+v (count %d, total %d)", st.Layers, st.LayerCount, st.TotalSize)
		case st.LastCheckedTime == nil || st.LastChangedTime == nil:
			t.Errorf("lastCheckedTime = %v, lastChangedTime = %v", st.LastCheckedTime, st.LastChangedTime)
		}
		if evs := h.rec.of(obj); len(evs) != 1 || evs[0].eventType != "Normal" || evs[0].reason != "Resolved" {
			t.Errorf("events = %+v, want one Normal Resolved", evs)
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
		if log.ManifestHEADs() != 1 || log.ManifestGETs() != 0 || log.BlobGETs() != 0 {
			t.Fatalf("unchanged re-check: HEAD=%d GET=%d blobs=%d, want 1/0/0\n%s", log.ManifestHEADs(), log.ManifestGETs(), log.BlobGETs(), log)
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
		want := "tag 1.0 moved from " + h.index + " to " + moved
		var found bool
		for _, e := range h.rec.of(obj) {
			if e.reason == "DigestChanged" {
				found = e.note == want && e.eventType == "Normal"
			}
		}
		if !found {
			t.Errorf("no Normal DigestChanged event %q in %+v", want, h.rec.of(obj))
		}
	})

	t.Run("an outage keeps what was resolved", func(t *testing.T) {
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
			b, g := before.Status, got.Status
			if g.Digest != b.Digest || g.ManifestDigest != b.ManifestDigest || g.ConfigDigest != b.ConfigDigest || g.ImageRef != b.ImageRef ||
				g.LayerCount != b.LayerCount || len(g.Layers) != len(b.Layers) || g.Config == nil || len(g.Platforms) != len(b.Platforms) || g.ObservedGeneration != b.ObservedGeneration {
				t.Fatalf("status lost data in the outage:\nbefore %+v\nafter  %+v", b, g)
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
		}{
			{"unknown tag", "NotFound", "nope", func(s *imagesv1alpha1.ImageConfigSpec) { s.Tag = "nope" }},
			{"platform not in the index", "PlatformNotFound", "available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/s390x, windows/amd64",
				func(s *imagesv1alpha1.ImageConfigSpec) {
					s.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "ppc64le"}
				}},
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
				if got.Status.ObservedGeneration != got.Generation {
					t.Errorf("observedGeneration = %d, want %d (the verdict on this generation is final)", got.Status.ObservedGeneration, got.Generation)
				}
			})
		}
	})

	t.Run("rate limited waits for Retry-After, capped at the interval", func(t *testing.T) {
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
		obj := h.create("insecure", nil)
		_, err, got := h.reconcile(obj)
		if err != nil || len(h.reg.Log().Requests()) != 0 {
			t.Fatalf("err=%v requests=%d", err, len(h.reg.Log().Requests()))
		}
		if c := ready(got); c == nil || c.Reason != "InsecureNotAllowed" || !strings.Contains(c.Message, "--allow-insecure-registries") {
			t.Errorf("Ready = %+v", c)
		}
	})

	t.Run("a platform edit re-resolves without the previous result", func(t *testing.T) {
		h := newHarness(t, env)
		obj := h.create("edit", nil)
		h.reconcile(obj)
		h.update(obj, func(o *imagesv1alpha1.ImageConfig) {
			o.Spec.Platform = imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "s390x"}
		})
		h.reg.Log().Reset()
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.ManifestDigest != h.images["linux/s390x"] || got.Status.Platform != "linux/s390x" || got.Status.ObservedGeneration != 2 {
			t.Errorf("manifestDigest=%s platform=%s observedGeneration=%d", got.Status.ManifestDigest, got.Status.Platform, got.Status.ObservedGeneration)
		}
		if h.reg.Log().ManifestGETs() != 2 || h.reg.Log().BlobGETs() != 1 {
			t.Errorf("requests after a platform edit:\n%s", h.reg.Log())
		}
	})
}

// TestManager runs the reconciler in a manager: watches, predicates, the rate
// limiter and events working together.
func TestManager(t *testing.T) {
	g := NewWithT(t)
	env := testenv.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	g.Expect(err).NotTo(HaveOccurred())
	finder := &countingFinder{}
	rec := &recorder{}
	r := &ImageConfigReconciler{Client: mgr.GetClient(), Finder: finder, Recorder: rec, AllowInsecureRegistries: true}
	g.Expect(r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 4, RetryBaseDelay: 200 * time.Millisecond, RetryMaxDelay: time.Second})).To(Succeed())
	go func() { _ = mgr.Start(ctx) }()

	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "demo/hello", "1.0", idx)
	ns := newNamespace(t, env.Client)
	get := func(name string) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o)).To(Succeed())
		return o
	}
	create := func(name, tag string) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "demo/hello", Tag: tag, Insecure: true},
		}
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
		return o
	}

	// Ready, and the status write does not trigger another registry check.
	obj := create("ok", "1.0")
	g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get("ok").Status.Conditions, "Ready") }, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	g.Consistently(func() int { return finder.count(reg.Host(), "demo/hello") }, 2*time.Second, 200*time.Millisecond).Should(Equal(1))

	// The annotation forces an immediate re-check: one HEAD.
	before := reg.Log().ManifestHEADs()
	o := get("ok")
	o.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "now"}
	g.Expect(env.Client.Update(ctx, o)).To(Succeed())
	g.Eventually(func() string { return get("ok").Status.LastHandledReconcileAt }, 10*time.Second, 100*time.Millisecond).Should(Equal("now"))
	g.Expect(reg.Log().ManifestHEADs()).To(Equal(before + 1))
	g.Expect(rec.of(obj)).To(HaveLen(1)) // Resolved, once

	// A terminal error never hot-loops: one resolution, then quiet until the interval.
	create("missing", "nope")
	g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get("missing").Status.Conditions, "Stalled") }, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	g.Consistently(func() int { return finder.count(reg.Host(), "demo/hello") }, 3*time.Second, 200*time.Millisecond).Should(Equal(3))

	// An outage backs off through the rate limiter (200ms doubling, capped at 1s here):
	// a handful of attempts in 3 seconds, not a storm.
	outage := testregistry.New(t, testregistry.Options{})
	outage.SetFault(testregistry.FailRequests("", "", http.StatusServiceUnavailable, 0, nil))
	down := &imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "down", Namespace: ns},
		Spec:       imagesv1alpha1.ImageConfigSpec{Registry: outage.Host(), Repository: "demo/hello", Tag: "1.0", Insecure: true},
	}
	g.Expect(env.Client.Create(ctx, down)).To(Succeed())
	g.Eventually(func() string {
		c := ready(get("down"))
		if c == nil {
			return ""
		}
		return c.Reason
	}, 30*time.Second, 100*time.Millisecond).Should(Equal("Unavailable"))
	start := finder.count(outage.Host(), "demo/hello")
	time.Sleep(3 * time.Second)
	attempts := finder.count(outage.Host(), "demo/hello") - start
	g.Expect(attempts).To(BeNumerically(">=", 1), "the controller stopped retrying an outage")
	g.Expect(attempts).To(BeNumerically("<=", 5), "retry storm: %d attempts in 3s", attempts)
	var warnings int
	for _, e := range rec.of(down) {
		if e.eventType == "Warning" {
			warnings++
		}
	}
	g.Expect(warnings).To(Equal(1), "one Warning when Ready turned false, none per retry")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
