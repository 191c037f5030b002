package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// The OCI annotations that name an image's base.
const (
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// baseImage builds a base image whose only layer is content.
func baseImage(t testing.TB, content string) v1.Image {
	t.Helper()
	return testregistry.Image(t, testregistry.ImageSpec{Layers: []string{content}})
}

// appOn builds an application image on base: base's layer, then its own,
// annotated with the base's name and digest as docker-library and buildah
// write them.
func appOn(t testing.TB, baseLayer, content, baseName string, base v1.Image) v1.Image {
	t.Helper()
	d, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{baseLayer, content}})
	return mutate.Annotations(img, map[string]string{annotationBaseName: baseName, annotationBaseDigest: d.String()}).(v1.Image)
}

// requestTimes records the fake time of every registry request, by method and path.
type requestTimes struct {
	mu   sync.Mutex
	reqs []timedRequest
}

type timedRequest struct {
	method, path string
	at           time.Time
}

func (l *requestTimes) fault(clk *clocktesting.FakeClock) testregistry.Fault {
	return func(_ http.ResponseWriter, req *http.Request) bool {
		l.mu.Lock()
		l.reqs = append(l.reqs, timedRequest{req.Method, req.URL.Path, clk.Now()})
		l.mu.Unlock()
		return false
	}
}

// count returns the requests with method (any when empty) whose path has
// prefix and contains part, made in [from, to).
func (l *requestTimes) count(method, prefix, part string, from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if (method == "" || r.method == method) && strings.HasPrefix(r.path, prefix) && strings.Contains(r.path, part) && !r.at.Before(from) && r.at.Before(to) {
			n++
		}
	}
	return n
}

// newBaseFleet is a fleetSim of objects over apps, the apps built on bases
// (app i on base i%len(bases)), with the supply-chain checks on. It returns the
// sim, the request times, and for each object the index of its base.
func newBaseFleet(t *testing.T, objects, apps int, bases []string, interval time.Duration) (*fleetSim, *requestTimes, map[types.NamespacedName]int) {
	t.Helper()
	s := &fleetSim{t: t, clk: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)), interval: interval,
		writes: map[types.NamespacedName]int{}, notReady: map[types.NamespacedName]int{}}
	s.reg = testregistry.New(t, testregistry.Options{})
	baseOf := map[types.NamespacedName]int{}
	for b, tag := range bases {
		img := baseImage(t, "base "+tag)
		s.reg.PushImage(t, "base/os", tag, img)
		for a := b; a < apps; a += len(bases) {
			app := appOn(t, "base "+tag, fmt.Sprintf("app %d", a), s.reg.Host()+"/base/os:"+tag, img)
			s.reg.PushImage(t, "fleet/app", fmt.Sprintf("a%02d", a), app)
		}
	}
	times := &requestTimes{}
	s.reg.SetFault(times.fault(s.clk))
	var objs []client.Object
	for i := range objects {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%04d", i), Namespace: "fleet", UID: types.UID(fmt.Sprintf("uid-%04d", i)), Generation: 1},
			Spec: imagesv1alpha1.ImageConfigSpec{Registry: s.reg.Host(), Repository: "fleet/app", Tag: fmt.Sprintf("a%02d", i%apps),
				Insecure: true, Interval: &metav1.Duration{Duration: interval}},
		}
		objs = append(objs, o)
		s.keys = append(s.keys, client.ObjectKeyFromObject(o))
		baseOf[client.ObjectKeyFromObject(o)] = (i % apps) % len(bases)
	}
	s.c = fake.NewClientBuilder().WithScheme(testenv.Scheme()).WithObjects(objs...).
		WithStatusSubresource(&imagesv1alpha1.ImageConfig{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: s.countWrite}).Build()
	s.restart()
	s.r.SupplyChain = NewSupplyChain()
	return s, times, baseOf
}

func (s *fleetSim) object(k types.NamespacedName) *imagesv1alpha1.ImageConfig {
	s.t.Helper()
	o := &imagesv1alpha1.ImageConfig{}
	if err := s.c.Get(context.Background(), k, o); err != nil {
		s.t.Fatal(err)
	}
	return o
}

// TestBaseFleetHeads: 100 objects on 10 apps over 2 base tags. After the first
// pass, each interval costs at most one request per base tag (2 in all), also
// after a restart spreads the apps over the interval; the attachments are
// listed in the first pass only (they are due again after 10 intervals, and a
// restart does not list them again), and an unchanged fleet writes no status. Moving
// one base tag flips exactly the objects built on it, with one event each, at
// the next interval.
func TestBaseFleetHeads(t *testing.T) {
	const interval = 10 * time.Minute
	bases := []string{"12", "3"}
	s, times, baseOf := newBaseFleet(t, 100, 10, bases, interval)
	t0 := s.clk.Now()
	s.firstPass()
	for _, k := range s.keys {
		o := s.object(k)
		c := apimeta.FindStatusCondition(o.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
		if c == nil || c.Status != metav1.ConditionFalse || o.Status.BaseImage == nil || o.Status.BaseImage.CurrentDigest == "" {
			t.Fatalf("%s after the first pass: %s baseImage %+v, want BaseImageOutdated=False with a current digest", k.Name, conditionSummary(o), o.Status.BaseImage)
		}
		if o.Status.Referrers == nil || o.Status.Referrers.Digest != o.Status.Digest {
			t.Fatalf("%s after the first pass: referrers %+v, want a listing for %s", k.Name, o.Status.Referrers, o.Status.Digest)
		}
	}
	firstReferrers := times.count("", "/v2/fleet/app/", "sha256-", t0, t0.Add(time.Second)) + times.count("", "/v2/fleet/app/referrers/", "", t0, t0.Add(time.Second))
	if firstReferrers == 0 {
		t.Errorf("no referrers request in the first pass:\n%s", s.reg.Log())
	}

	// Steady intervals: two after the first pass, where the fleet comes due
	// together; then a restart, after which the apps come due spread over the
	// interval by their tags (firstCheckDelay), and three more. Each interval
	// asks each base tag at most once (after the restart the first ask is a GET:
	// the new process has no cache), and never lists the attachments again.
	steady := func(from time.Time, n int, what string) {
		for k := range n {
			start := from.Add(time.Duration(k) * interval)
			end := start.Add(interval)
			s.runUntil(end.Add(-time.Nanosecond))
			for _, tag := range bases {
				if n := times.count("", "/v2/base/os/manifests/"+tag, "", start, end); n > 1 {
					t.Errorf("%s, interval %d: %d requests for base tag %s, want at most 1", what, k+1, n, tag)
				}
			}
			n := times.count(http.MethodHead, "/v2/base/", "", start, end) + times.count(http.MethodGet, "/v2/base/os/manifests/", "", start, end)
			t.Logf("%s, interval %d: %d base manifest requests for %d objects on %d base tags", what, k+1, n, len(s.keys), len(bases))
			if n == 0 || n > len(bases) {
				t.Errorf("%s, interval %d: %d base manifest requests, want 1 to %d", what, k+1, n, len(bases))
			}
			if n := times.count("", "/v2/fleet/app/referrers/", "", start, end) + times.count("", "/v2/fleet/app/", "sha256-", start, end); n != 0 {
				t.Errorf("%s, interval %d: %d referrers requests, want none before spec.referrers.interval", what, k+1, n)
			}
		}
	}
	steady(t0.Add(interval), 2, "after the first pass")
	if n := times.count(http.MethodGet, "/v2/base/", "", t0.Add(time.Second), t0.Add(3*interval)); n != 0 {
		t.Errorf("%d base GETs after the first pass, want none (the content is cached)", n)
	}
	restarted := t0.Add(3 * interval)
	s.restart()
	s.r.SupplyChain = NewSupplyChain()
	steady(restarted, 3, "after a restart")
	if n := times.count(http.MethodGet, "/v2/base/", "", restarted.Add(interval), restarted.Add(3*interval)); n != 0 {
		t.Errorf("%d base GETs after the restart's first interval, want none", n)
	}
	if w, _, _ := s.totals(); w != 0 {
		t.Errorf("%d status writes in 5 unchanged intervals and a restart, want 0", w)
	}

	// Move base tag "12": the objects built on it, and only those, become outdated.
	moved := baseImage(t, "base 12, patched")
	s.reg.PushImage(t, "base/os", "12", moved)
	movedDigest, _ := moved.Digest()
	from := restarted.Add(3 * interval)
	s.runUntil(from.Add(2 * interval))
	rec := s.r.Recorder.(*recorder)
	for _, k := range s.keys {
		o := s.object(k)
		c := apimeta.FindStatusCondition(o.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
		wantOutdated := baseOf[k] == 0
		if c == nil || (c.Status == metav1.ConditionTrue) != wantOutdated || !apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition) {
			t.Errorf("%s (base %s): %s, want BaseImageOutdated %v and Ready", k.Name, bases[baseOf[k]], conditionSummary(o), wantOutdated)
			continue
		}
		moves := 0
		for _, e := range rec.of(o) {
			if e.reason == imagesv1alpha1.BaseImageMovedEvent {
				moves++
			}
		}
		switch {
		case wantOutdated && (o.Status.BaseImage.CurrentDigest != movedDigest.String() || !strings.Contains(c.Message, movedDigest.String()) || !strings.Contains(c.Message, o.Status.BaseImage.Digest)):
			t.Errorf("%s: baseImage %+v, message %q; want the current digest %s and both digests in the message", k.Name, o.Status.BaseImage, c.Message, movedDigest)
		case wantOutdated && moves != 1:
			t.Errorf("%s: %d BaseImageMoved events over two intervals after one move, want 1", k.Name, moves)
		case !wantOutdated && moves != 0:
			t.Errorf("%s: %d BaseImageMoved events on a base that did not move", k.Name, moves)
		}
	}
	if n := times.count(http.MethodHead, "/v2/base/os/manifests/12", "", from, from.Add(interval)); n > 1 {
		t.Errorf("%d HEADs of the moved base tag in its interval, want at most 1", n)
	}
}
