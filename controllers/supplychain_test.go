package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/managercache"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

// TestSupplyChain runs the supply-chain checks against a real API server.
func TestSupplyChain(t *testing.T) {
	env := controlPlane.Get(t)
	t.Run("base tag moves during the run", func(t *testing.T) { testBaseMoves(t, env) })
	t.Run("bad base input makes no request", func(t *testing.T) { testBaseBadInput(t, env) })
	t.Run("base registry credentials", func(t *testing.T) { testBaseCredentials(t, env) })
	t.Run("referrers on a digest change and on their interval", func(t *testing.T) { testReferrers(t, env, nil) })
	t.Run("referrers under the manager's default network policy", func(t *testing.T) {
		// The manager's default --denied-networks, enforced at dial time on an *http.Transport.
		policy, err := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks)
		if err != nil {
			t.Fatal(err)
		}
		testReferrers(t, env, policy)
	})
}

// supplyChainReconciler is a reconciler with the shared finder and the
// supply-chain checks, on a fake clock.
func supplyChainReconciler(env *testenv.Env, clk *clocktesting.FakeClock) *ImageConfigReconciler {
	return &ImageConfigReconciler{Client: env.Client, APIReader: env.Client, Recorder: &recorder{}, AllowInsecureRegistries: true, Now: clk.Now,
		Finder:      manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: clk.Now}),
		SupplyChain: NewSupplyChain()}
}

func createImageConfig(t *testing.T, c client.Client, ns, name string, spec imagesv1alpha1.ImageConfigSpec) *imagesv1alpha1.ImageConfig {
	t.Helper()
	o := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	if err := c.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

func baseCondition(o *imagesv1alpha1.ImageConfig) *metav1.Condition {
	return apimeta.FindStatusCondition(o.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
}

func baseMovedEvents(rec *recorder, o client.Object) int {
	n := 0
	for _, e := range rec.of(o) {
		if e.reason == imagesv1alpha1.BaseImageMovedEvent {
			n++
		}
	}
	return n
}

// testBaseMoves: two apps on two base tags; one tag moves. The object on it
// turns BaseImageOutdated=True (with both digests and the time first seen),
// gets one BaseImageMoved event however often it is re-checked, and the gauge
// counts it; the other stays False. Ready never moves.
func testBaseMoves(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{})
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	baseDigests := map[string]string{}
	for _, tag := range []string{"12", "3"} {
		base := baseImage(t, "base "+tag)
		baseDigests[tag] = reg.PushImage(t, "base/os", tag, base).String()
		reg.PushImage(t, "team/app", "on-"+tag, appOn(t, "base "+tag, "app on "+tag, reg.Host()+"/base/os:"+tag, base))
	}
	r := supplyChainReconciler(env, clk)
	rec := r.Recorder.(*recorder)
	// The gauge as the manager registers it (on its informer cache, read in
	// place), and on a plain reader (listed); both must count alike.
	metrics, cachedMetrics := prometheus.NewRegistry(), prometheus.NewRegistry()
	if err := RegisterSupplyChainMetrics(metrics, env.Client); err != nil {
		t.Fatal(err)
	}
	opts := managercache.CacheOptions(nil)
	opts.Scheme = env.Scheme
	informers, err := cache.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(context.Background())
	t.Cleanup(stopCache)
	go func() { _ = informers.Start(cacheCtx) }()
	if err := RegisterSupplyChainMetrics(cachedMetrics, informers); err != nil {
		t.Fatal(err)
	}
	// The manager's gauge reads the informer's store in place; were
	// controller-runtime to hide it, the gauge would list (and copy) instead.
	if inf, err := informers.GetInformer(cacheCtx, &imagesv1alpha1.ImageConfig{}); err != nil {
		t.Fatal(err)
	} else if _, ok := inf.(interface{ GetStore() toolscache.Store }); !ok {
		t.Errorf("controller-runtime's ImageConfig informer (%T) has no GetStore: imageconfig_base_outdated_objects lists every object on each scrape", inf)
	}
	gaugeOf := func(reg *prometheus.Registry) string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "imageconfig_base_outdated_objects" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == ns {
					return fmt.Sprint(m.GetGauge().GetValue())
				}
			}
		}
		return "absent"
	}
	gauge := func() string {
		t.Helper()
		g := gaugeOf(metrics)
		// The cache follows the API server by a watch event.
		cached := gaugeOf(cachedMetrics)
		for deadline := time.Now().Add(10 * time.Second); cached != g && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			cached = gaugeOf(cachedMetrics)
		}
		if cached != g {
			t.Errorf("imageconfig_base_outdated_objects{namespace=%q} from the informer cache = %s, from a list = %s", ns, cached, g)
		}
		return g
	}
	spec := func(tag string) imagesv1alpha1.ImageConfigSpec {
		return imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "team/app", Tag: tag, Insecure: true,
			Interval: &metav1.Duration{Duration: time.Minute}}
	}
	moving, steady := createImageConfig(t, env.Client, ns, "on-12", spec("on-12")), createImageConfig(t, env.Client, ns, "on-3", spec("on-3"))
	objs := []*imagesv1alpha1.ImageConfig{moving, steady}

	got := reconcileAll(t, r, objs)
	for _, o := range got {
		if c := baseCondition(o); c == nil || c.Status != metav1.ConditionFalse || c.Reason != imagesv1alpha1.BaseCurrentReason || ready(o).Status != metav1.ConditionTrue {
			t.Fatalf("%s before the move: %s", o.Name, conditionSummary(o))
		}
	}
	if g := gauge(); g != "0" {
		t.Errorf("imageconfig_base_outdated_objects{namespace=%q} = %s before the move, want 0", ns, g)
	}
	for i, tag := range []string{"12", "3"} {
		want := &imagesv1alpha1.BaseImageStatus{Name: reg.Host() + "/base/os:" + tag, Digest: baseDigests[tag], CurrentDigest: baseDigests[tag]}
		if diff := cmp.Diff(want, got[i].Status.BaseImage); diff != "" {
			t.Errorf("%s before the move: status.baseImage (-want +got):\n%s", got[i].Name, diff)
		}
	}
	recorded := baseDigests["12"]

	moved := baseImage(t, "base 12, patched")
	reg.PushImage(t, "base/os", "12", moved)
	movedDigest, _ := moved.Digest()
	for i := range 3 {
		clk.Step(2 * time.Minute)
		got = reconcileAll(t, r, objs)
		c := baseCondition(got[0])
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != imagesv1alpha1.BaseMovedReason ||
			!strings.Contains(c.Message, recorded) || !strings.Contains(c.Message, movedDigest.String()) || !strings.Contains(c.Message, "first seen") {
			t.Fatalf("re-check %d after the move: %s; want BaseImageOutdated=True, BaseMoved, with %s, %s and the time first seen", i, conditionSummary(got[0]), recorded, movedDigest)
		}
		want := &imagesv1alpha1.BaseImageStatus{Name: reg.Host() + "/base/os:12", Digest: recorded, CurrentDigest: movedDigest.String()}
		if diff := cmp.Diff(want, got[0].Status.BaseImage); diff != "" {
			t.Errorf("re-check %d after the move: status.baseImage (-want +got):\n%s", i, diff)
		}
		if c := baseCondition(got[1]); c == nil || c.Status != metav1.ConditionFalse {
			t.Errorf("the object on the base that did not move: %s", conditionSummary(got[1]))
		}
		for _, o := range got {
			if ready(o).Status != metav1.ConditionTrue {
				t.Errorf("%s: Ready changed: %s", o.Name, conditionSummary(o))
			}
		}
		if n := baseMovedEvents(rec, moving); n != 1 {
			t.Errorf("re-check %d after the move: %d BaseImageMoved events, want 1", i, n)
		}
		if n := baseMovedEvents(rec, steady); n != 0 {
			t.Errorf("re-check %d: %d BaseImageMoved events for the object whose base did not move", i, n)
		}
		if g := gauge(); g != "1" {
			t.Errorf("re-check %d: imageconfig_base_outdated_objects{namespace=%q} = %s, want 1", i, ns, g)
		}
	}

	// A restarted manager (a new reconciler, empty memory) repeats no event.
	r2 := supplyChainReconciler(env, clk)
	clk.Step(2 * time.Minute)
	reconcileAll(t, r2, objs)
	if n := baseMovedEvents(r2.Recorder.(*recorder), moving); n != 0 {
		t.Errorf("after a restart: %d BaseImageMoved events for a move already reported, want 0", n)
	}
}

// testBaseBadInput: a base name that does not parse, and a base on a host the
// network policy refuses, give BaseImageOutdated=Unknown with a reason that
// says so, Ready stays True, and no request is sent for the base.
func testBaseBadInput(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{})
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	annotated := func(name string) v1.Image {
		img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"app " + name}})
		return mutate.Annotations(img, map[string]string{annotationBaseName: name, annotationBaseDigest: "sha256:" + strings.Repeat("0", 64)}).(v1.Image)
	}
	reg.PushImage(t, "team/app", "unparsable", annotated("Not A Reference::<b>bold</b>"))
	reg.PushImage(t, "team/app", "denied", annotated("registry.elsewhere.example:5000/base/os:12"))
	policy, err := netpolicy.Parse(reg.Host(), "")
	if err != nil {
		t.Fatal(err)
	}
	r := supplyChainReconciler(env, clk)
	r.Network = policy
	tests := []struct {
		tag, reason, mention string
	}{
		{"unparsable", imagesv1alpha1.InvalidBaseReferenceReason, "Not A Reference"},
		{"denied", imagesv1alpha1.BaseRegistryNotAllowedReason, "registry.elsewhere.example"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			o := createImageConfig(t, env.Client, ns, tt.tag, imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "team/app", Tag: tt.tag, Insecure: true})
			reg.Log().Reset()
			got := reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{o})[0]
			c := baseCondition(got)
			if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != tt.reason || !strings.Contains(c.Message, tt.mention) {
				t.Errorf("%s; want BaseImageOutdated=Unknown, %s, naming %q", conditionSummary(got), tt.reason, tt.mention)
			}
			if ready(got).Status != metav1.ConditionTrue {
				t.Errorf("Ready: %s", conditionSummary(got))
			}
			for _, req := range reg.Log().Requests() {
				if !strings.HasPrefix(req.Path, "/v2/team/app/") && req.Path != "/v2/" {
					t.Errorf("request %s, want only the image's own", req)
				}
			}
		})
	}
}

// testBaseCredentials: the image is on registry A (alice), its base on
// registry B (bob). The object's credentials (a basic-auth Secret, which would
// be sent to any registry) never reach B: without spec.baseImage.secretRef the
// base is checked anonymously and B refuses; with it, B gets bob's.
func testBaseCredentials(t *testing.T, env *testenv.Env) {
	a := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth, Users: map[string]string{"alice": alicePassword}})
	// B is on HTTPS: a base on another registry never inherits the image's spec.insecure.
	b := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth, TLS: true, Users: map[string]string{"bob": "bob-secret-42"}})
	base := baseImage(t, "private base")
	// The reference registry's token issuer lets a known user pull private/*.
	b.PushImage(t, "private/base", "12", base)
	a.PushImage(t, "private/app", "1", appOn(t, "private base", "app", b.Host()+"/private/base:12", base))
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	h := &credHarness{t: t, c: env.Client, ns: ns}
	h.secret("alice", corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte("alice"), "password": []byte(alicePassword)})
	h.secret("bob", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": dockerConfigJSON(b.Host(), "bob", "bob-secret-42")})
	r := supplyChainReconciler(env, clk)
	tlsConfig, err := auth.TLSConfig(b.CAPEM(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Transport = auth.Transport(tlsConfig)
	credentialedTokenRequests := func() int {
		n := 0
		for _, req := range b.Log().Requests() {
			if strings.Contains(req.Path, "token") && req.HasAuth {
				n++
			}
		}
		return n
	}
	spec := imagesv1alpha1.ImageConfigSpec{Registry: a.Host(), Repository: "private/app", Tag: "1", Insecure: true,
		SecretRef: &imagesv1alpha1.LocalObjectReference{Name: "alice"}}

	anon := reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{createImageConfig(t, env.Client, ns, "anonymous-base", spec)})[0]
	if c := baseCondition(anon); ready(anon).Status != metav1.ConditionTrue || c == nil || c.Status != metav1.ConditionUnknown || c.Reason != imagesv1alpha1.BaseCheckFailedReason {
		t.Errorf("without spec.baseImage.secretRef: %s; want Ready, and BaseImageOutdated=Unknown (BaseCheckFailed: B refuses anonymous pulls)", conditionSummary(anon))
	}
	if n := credentialedTokenRequests(); n != 0 {
		t.Errorf("registry B got %d token requests with credentials; the object's credentials are for A only", n)
	}

	spec.BaseImage = &imagesv1alpha1.BaseImageSpec{SecretRef: &imagesv1alpha1.LocalObjectReference{Name: "bob"}}
	withSecret := reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{createImageConfig(t, env.Client, ns, "base-secret", spec)})[0]
	if c := baseCondition(withSecret); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("with spec.baseImage.secretRef: %s; want BaseImageOutdated=False", conditionSummary(withSecret))
	}
	if n := credentialedTokenRequests(); n == 0 {
		t.Errorf("registry B got no token request with bob's credentials")
	}

	spec.BaseImage.SecretRef.Name = "missing"
	missing := reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{createImageConfig(t, env.Client, ns, "base-secret-missing", spec)})[0]
	if c := baseCondition(missing); c == nil || c.Status != metav1.ConditionUnknown || c.Reason != imagesv1alpha1.SecretNotFoundReason || !strings.Contains(c.Message, "spec.baseImage.secretRef") {
		t.Errorf("with a missing spec.baseImage.secretRef: %s; want BaseImageOutdated=Unknown, SecretNotFound, naming the field", conditionSummary(missing))
	}
}

// testReferrers: the attachments are listed in the reconcile that resolves a
// digest, not on the unchanged re-checks that follow, at once when the tag
// moves, and again after spec.referrers.interval; every request is counted by
// imageconfig_registry_requests_total. policy is the manager's network policy.
func testReferrers(t *testing.T, env *testenv.Env, policy *netpolicy.Policy) {
	reg := testregistry.New(t, testregistry.Options{})
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ns := newNamespace(t, env.Client)
	first := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"signed app"}})
	d1 := reg.PushImage(t, "team/app", "1", first)
	sig1 := reg.PushImage(t, "team/app", testregistry.CosignTag(d1, ".sig"), testregistry.CosignSignature(t, reg.Host()+"/team/app", d1))
	r := supplyChainReconciler(env, clk)
	r.Network = policy
	promReg := prometheus.NewRegistry()
	m, err := NewMetrics(promReg)
	if err != nil {
		t.Fatal(err)
	}
	r.Metrics = m
	// counted is the metric's count of the requests the registry answered: the
	// HTTPS attempt of a ping to this plain-HTTP registry has no answer ("error").
	counted := func() int {
		mfs, err := promReg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if mf.GetName() == "imageconfig_registry_requests_total" {
				for _, c := range mf.GetMetric() {
					if !slices.ContainsFunc(c.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "code" && l.GetValue() == "error" }) {
						n += int(c.GetCounter().GetValue())
					}
				}
			}
		}
		return n
	}
	listings := func() int {
		n := 0
		for _, req := range reg.Log().Requests() {
			if strings.Contains(req.Path, "/referrers/") || strings.Contains(req.Path, "/manifests/sha256-") {
				n++
			}
		}
		return n
	}
	o := createImageConfig(t, env.Client, ns, "app", imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "team/app", Tag: "1", Insecure: true,
		Interval: &metav1.Duration{Duration: time.Minute}, Referrers: &imagesv1alpha1.ReferrersSpec{Interval: &metav1.Duration{Duration: 5 * time.Minute}}})
	reconcile := func() *imagesv1alpha1.ImageConfig {
		t.Helper()
		reg.Log().Reset()
		before := counted()
		got := reconcileAll(t, r, []*imagesv1alpha1.ImageConfig{o})[0]
		if n, c := len(reg.Log().Requests()), counted()-before; n != c {
			t.Errorf("the registry served %d requests, the metric counted %d:\n%s", n, c, reg.Log())
		}
		return got
	}

	// referrers compares status.referrers with want, and checks that it was listed.
	referrers := func(what string, want *imagesv1alpha1.ReferrersStatus, got *imagesv1alpha1.ReferrersStatus) {
		t.Helper()
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(imagesv1alpha1.ReferrersStatus{}, "LastListedTime")); diff != "" {
			t.Fatalf("%s: status.referrers (-want +got):\n%s", what, diff)
		}
		if got.LastListedTime == nil {
			t.Errorf("%s: status.referrers.lastListedTime is not set", what)
		}
	}

	got := reconcile()
	referrers("first resolution", &imagesv1alpha1.ReferrersStatus{Signed: true, Digest: d1.String(),
		// A tag-based signature has no artifactType: its manifest's media type stands in.
		Entries: []imagesv1alpha1.Referrer{{Digest: sig1.String(), ArtifactType: string(types.OCIManifestSchema1), Kind: "signature", Format: "cosign", Source: "cosignTag"}}},
		got.Status.Referrers)
	if listings() == 0 {
		t.Errorf("no referrers request in the first resolution:\n%s", reg.Log())
	}
	clk.Step(2 * time.Minute)
	if got = reconcile(); listings() != 0 || !got.Status.Referrers.Signed {
		t.Errorf("an unchanged re-check made %d referrers requests, want 0 (status.referrers %+v):\n%s", listings(), got.Status.Referrers, reg.Log())
	}

	second := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"new app"}})
	d2 := reg.PushImage(t, "team/app", "1", second)
	clk.Step(2 * time.Minute)
	got = reconcile()
	if listings() == 0 {
		t.Errorf("after the tag moved: no referrers request, want a listing of %s at once:\n%s", d2, reg.Log())
	}
	referrers("after the tag moved", &imagesv1alpha1.ReferrersStatus{Digest: d2.String()}, got.Status.Referrers)

	reg.PushImage(t, "team/app", testregistry.CosignTag(d2, ".sig"), testregistry.CosignSignature(t, reg.Host()+"/team/app", d2))
	clk.Step(2 * time.Minute)
	if got = reconcile(); listings() != 0 || got.Status.Referrers.Signed {
		t.Errorf("2m after the listing: %d referrers requests, signed %v; want none before spec.referrers.interval (5m)", listings(), got.Status.Referrers.Signed)
	}
	clk.Step(4 * time.Minute)
	if got = reconcile(); listings() == 0 || !got.Status.Referrers.Signed {
		t.Errorf("past spec.referrers.interval: %d referrers requests, status.referrers %+v; want the new signature", listings(), got.Status.Referrers)
	}
}
