package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// fleetSim runs the reconciler over a fleet on a fake clock, the way the
// manager's work queue would: each object is reconciled when its RequeueAfter
// (or, after an error, a fixed backoff) comes due. The API server is
// controller-runtime's fake client, which counts status writes; the registry is
// a real in-process one behind the shared finder the manager runs, which counts
// HEADs and records the fake time of each.
type fleetSim struct {
	t        *testing.T
	clk      *clocktesting.FakeClock
	c        client.Client
	reg      *testregistry.Registry
	interval time.Duration
	keys     []types.NamespacedName

	mu        sync.Mutex
	writes    map[types.NamespacedName]int
	notReady  map[types.NamespacedName]int // Ready turning away from True
	headTimes []time.Time
	attempts  int

	r   *ImageConfigReconciler
	due map[types.NamespacedName]time.Time
}

// simBackoff stands in for the controller's backoff of a returned error.
const simBackoff = 10 * time.Second

func newFleetSim(t *testing.T, objects, tags int, interval time.Duration) *fleetSim {
	t.Helper()
	s := &fleetSim{t: t, clk: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)), interval: interval,
		writes: map[types.NamespacedName]int{}, notReady: map[types.NamespacedName]int{}}
	s.reg = testregistry.New(t, testregistry.Options{})
	for i := range tags {
		img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{fmt.Sprintf("layer %d", i)}})
		s.reg.PushImage(t, "fleet/app", fmt.Sprintf("t%03d", i), img)
	}
	s.recordHeads(nil)
	var objs []client.Object
	for i := range objects {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%04d", i), Namespace: "fleet", UID: types.UID(fmt.Sprintf("uid-%04d", i)), Generation: 1},
			Spec: imagesv1alpha1.ImageConfigSpec{Registry: s.reg.Host(), Repository: "fleet/app", Tag: fmt.Sprintf("t%03d", i%tags),
				Insecure: true, Interval: &metav1.Duration{Duration: interval}},
		}
		objs = append(objs, o)
		s.keys = append(s.keys, client.ObjectKeyFromObject(o))
	}
	s.c = fake.NewClientBuilder().WithScheme(testenv.Scheme()).WithObjects(objs...).
		WithStatusSubresource(&imagesv1alpha1.ImageConfig{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: s.countWrite}).Build()
	s.restart()
	return s
}

// countWrite counts a status write and whether it turned Ready away from True.
func (s *fleetSim) countWrite(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	key := client.ObjectKeyFromObject(obj)
	old := &imagesv1alpha1.ImageConfig{}
	if err := c.Get(ctx, key, old); err != nil {
		return err
	}
	if err := c.SubResource(sub).Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes[key]++
	if apimeta.IsStatusConditionTrue(old.Status.Conditions, imagesv1alpha1.ReadyCondition) &&
		!apimeta.IsStatusConditionTrue(obj.(*imagesv1alpha1.ImageConfig).Status.Conditions, imagesv1alpha1.ReadyCondition) {
		s.notReady[key]++
	}
	return nil
}

// recordHeads installs fault as the registry's fault (nil: none), recording the
// fake time of every manifest HEAD before it.
func (s *fleetSim) recordHeads(fault testregistry.Fault) {
	s.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodHead {
			s.mu.Lock()
			s.headTimes = append(s.headTimes, s.clk.Now())
			s.mu.Unlock()
		}
		return fault != nil && fault(w, req)
	})
}

// restart replaces the reconciler as a new manager process would: a new
// schedule, new registry sessions and caches, and every object queued at once
// (the informer's initial list).
func (s *fleetSim) restart() {
	shared := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20), Now: s.clk.Now})
	s.r = &ImageConfigReconciler{Client: s.c, Recorder: &recorder{}, AllowInsecureRegistries: true, Now: s.clk.Now,
		Finder: FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
			o.Network.RetryBackoff = &transport.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}
			return shared.Resolve(ctx, o)
		})}
	s.due = map[types.NamespacedName]time.Time{}
	for _, k := range s.keys {
		s.due[k] = s.clk.Now()
	}
}

// runUntil reconciles every object that comes due up to end, in order of due
// time, eight at a time, and leaves the clock at end.
func (s *fleetSim) runUntil(end time.Time) {
	s.t.Helper()
	for {
		next := end.Add(time.Nanosecond)
		for _, d := range s.due {
			if d.Before(next) {
				next = d
			}
		}
		if next.After(end) {
			break
		}
		if next.After(s.clk.Now()) {
			s.clk.SetTime(next)
		}
		var batch []types.NamespacedName
		for k, d := range s.due {
			if !d.After(next) {
				batch = append(batch, k)
			}
		}
		type outcome struct {
			res ctrl.Result
			err error
		}
		out := make([]outcome, len(batch))
		work := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range work {
					out[i].res, out[i].err = s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: batch[i]})
				}
			})
		}
		for i := range batch {
			work <- i
		}
		close(work)
		wg.Wait()
		now := s.clk.Now()
		for i, k := range batch {
			switch {
			case out[i].err != nil:
				s.attempts++
				s.due[k] = now.Add(simBackoff)
			case out[i].res.RequeueAfter > 0:
				s.due[k] = now.Add(out[i].res.RequeueAfter)
			default:
				delete(s.due, k)
			}
		}
	}
	if end.After(s.clk.Now()) {
		s.clk.SetTime(end)
	}
}

// totals returns the status writes so far and resets the counters; heads are
// the fake times of the HEADs since the last call.
func (s *fleetSim) totals() (writes, notReady int, heads []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.writes {
		writes += n
	}
	for _, n := range s.notReady {
		notReady += n
	}
	heads = s.headTimes
	s.writes, s.notReady, s.headTimes = map[types.NamespacedName]int{}, map[types.NamespacedName]int{}, nil
	return writes, notReady, heads
}

func (s *fleetSim) allReady() int {
	n := 0
	for _, k := range s.keys {
		o := &imagesv1alpha1.ImageConfig{}
		if err := s.c.Get(context.Background(), k, o); err != nil {
			s.t.Fatal(err)
		}
		if apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition) && o.Status.ObservedGeneration == o.Generation {
			n++
		}
	}
	return n
}

// firstPass resolves the fleet and checks that it cost exactly one status write
// per object.
func (s *fleetSim) firstPass() {
	s.t.Helper()
	s.runUntil(s.clk.Now())
	if n := s.allReady(); n != len(s.keys) {
		s.t.Fatalf("%d of %d Ready after the first pass", n, len(s.keys))
	}
	if w, _, _ := s.totals(); w != len(s.keys) {
		s.t.Fatalf("the first pass made %d status writes for %d objects, want exactly one each", w, len(s.keys))
	}
}

// spread checks that times (relative to start) fall in every quarter of the
// interval and that no quarter holds more than half of them.
func spread(t *testing.T, what string, times []time.Time, start time.Time, interval time.Duration) {
	t.Helper()
	quarters := make([]int, 4)
	for _, at := range times {
		q := int(at.Sub(start) * 4 / interval)
		if q < 0 || q > 3 {
			t.Errorf("%s at %s after the start, outside the first interval %s", what, at.Sub(start), interval)
			continue
		}
		quarters[q]++
	}
	for _, n := range quarters {
		if n == 0 || n > len(times)/2 {
			t.Errorf("%s per quarter of the interval = %v: want every quarter used and none with over half (%d)", what, quarters, len(times)/2)
			break
		}
	}
}

// TestRestartMidSteadyState: 400 objects over 40 tags. The first pass writes
// once per object; five unchanged intervals write nothing and cost about one
// HEAD per tag per interval; a manager restart in the middle of the steady
// state writes nothing, and its first re-checks spread over one interval, one
// HEAD per tag.
func TestRestartMidSteadyState(t *testing.T) {
	longScenario(t)
	const objects, tags = 400, 40
	interval := 10 * time.Minute
	s := newFleetSim(t, objects, tags, interval)
	s.firstPass()

	// Re-checks come every interval plus 0 to 10 % of jitter, so five intervals
	// hold four or five re-checks of each tag. The whole test stays within the
	// heartbeat (10 intervals at least), which TestSettleLastChecked covers.
	start := s.clk.Now()
	s.runUntil(start.Add(5 * interval))
	writes, notReady, heads := s.totals()
	if writes != 0 || notReady != 0 {
		t.Errorf("five unchanged intervals made %d status writes (%d Ready flaps), want 0", writes, notReady)
	}
	if perTag := float64(len(heads)) / (5 * tags); perTag < 0.75 || perTag > 1.05 {
		t.Errorf("%d HEADs over 5 intervals for %d tags = %.2f per tag per interval, want about 1", len(heads), tags, perTag)
	}

	s.clk.Step(interval / 3) // mid-interval
	s.restart()
	restart := s.clk.Now()
	s.runUntil(restart)
	s.mu.Lock()
	initialWrites, initialHeads := len(s.writes), len(s.headTimes)
	s.mu.Unlock()
	if initialWrites != 0 || initialHeads > tags/10 {
		t.Fatalf("the restart's initial list made %d status writes and %d HEADs, want none but for tags whose slot is at the start", initialWrites, initialHeads)
	}
	s.runUntil(restart.Add(interval))
	writes, notReady, heads = s.totals()
	if writes != 0 || notReady != 0 {
		t.Errorf("the first interval after a restart made %d status writes (%d Ready flaps), want 0", writes, notReady)
	}
	if len(heads) < tags || len(heads) > tags*12/10 {
		t.Errorf("the first interval after a restart made %d HEADs for %d tags, want about one per tag", len(heads), tags)
	}
	spread(t, "HEADs after the restart", heads, restart, interval)
	if s.allReady() != objects {
		t.Errorf("%d of %d Ready after the restart", s.allReady(), objects)
	}
}

// TestLastCheckedSkew: objects whose lastCheckedTime is far in the future or
// the past (clock skew, an edit by hand) are re-checked on their schedule, each
// refreshes lastCheckedTime with one write at its first re-check, spread over
// that interval, and then writes nothing.
func TestLastCheckedSkew(t *testing.T) {
	longScenario(t)
	const objects, tags = 200, 20
	interval := 10 * time.Minute
	s := newFleetSim(t, objects, tags, interval)
	s.firstPass()
	for i, k := range s.keys {
		skew := 365 * 24 * time.Hour
		if i%2 == 1 {
			skew = -skew
		}
		patch := fmt.Sprintf(`{"status":{"lastCheckedTime":%q}}`, s.clk.Now().Add(skew).Format(time.RFC3339))
		o := &imagesv1alpha1.ImageConfig{}
		o.Namespace, o.Name = k.Namespace, k.Name
		if err := s.c.Status().Patch(context.Background(), o, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	s.clk.Step(interval / 2)
	s.restart()
	restart := s.clk.Now()
	s.totals()

	// Record when each write happens: one per object, spread over the interval.
	var mu sync.Mutex
	var writeTimes []time.Time
	s.c = interceptor.NewClient(s.c.(client.WithWatch), interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		mu.Lock()
		writeTimes = append(writeTimes, s.clk.Now())
		mu.Unlock()
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}})
	s.r.Client = s.c
	s.runUntil(restart.Add(interval))
	writes, notReady, heads := s.totals()
	if writes != objects || notReady != 0 {
		t.Errorf("the first interval made %d writes (%d Ready flaps) for %d skewed objects, want one each", writes, notReady, objects)
	}
	if len(heads) > tags*12/10 {
		t.Errorf("%d HEADs for %d tags in one interval, want about one per tag", len(heads), tags)
	}
	spread(t, "lastCheckedTime refreshes", writeTimes, restart, interval)
	for _, k := range s.keys {
		o := &imagesv1alpha1.ImageConfig{}
		if err := s.c.Get(context.Background(), k, o); err != nil {
			t.Fatal(err)
		}
		if lc := o.Status.LastCheckedTime; lc == nil || lc.After(s.clk.Now()) || s.clk.Now().Sub(lc.Time) > interval {
			t.Fatalf("%s: lastCheckedTime = %v after its re-check, want within the last interval of %s", k.Name, lc, s.clk.Now())
		}
	}
	s.runUntil(s.clk.Now().Add(3 * interval))
	if writes, _, _ := s.totals(); writes != 0 {
		t.Errorf("three more unchanged intervals made %d writes, want 0", writes)
	}
}

// TestOutageWritesPerStateChange: 1,000 objects over 10 tags whose registry
// fails (503 on every request) for several retries and then recovers write
// once when they turn not Ready and once when they are Ready again, however
// many retries come between.
func TestOutageWritesPerStateChange(t *testing.T) {
	longScenario(t)
	const objects, tags = 1000, 10
	interval := time.Minute
	s := newFleetSim(t, objects, tags, interval)
	s.firstPass()

	// Every object meets the outage at its re-check (within 1.1 intervals) and
	// retries three or four times.
	s.recordHeads(testregistry.FailRequests("", "", http.StatusServiceUnavailable, 0, nil))
	outage := s.clk.Now().Add(interval*11/10 + 3*simBackoff)
	s.runUntil(outage)
	writes, notReady, _ := s.totals()
	if writes != objects || notReady != objects {
		t.Errorf("the outage made %d status writes (%d turned not Ready) for %d objects, want one each", writes, notReady, objects)
	}
	if s.attempts < 3*objects {
		t.Fatalf("only %d failed attempts during the outage, want at least 3 per object", s.attempts)
	}
	for _, k := range s.keys[:3] {
		o := &imagesv1alpha1.ImageConfig{}
		if err := s.c.Get(context.Background(), k, o); err != nil {
			t.Fatal(err)
		}
		if o.Status.Digest == "" || ready(o).Reason != string(manifests.Unavailable) {
			t.Fatalf("%s during the outage: digest %q, %s; want the digest kept and Ready=False Unavailable", k.Name, o.Status.Digest, conditionSummary(o))
		}
	}

	s.recordHeads(nil)
	attempts := s.attempts
	s.runUntil(s.clk.Now().Add(2 * simBackoff))
	if n := s.allReady(); n != objects {
		t.Fatalf("%d of %d Ready after the registry recovered", n, objects)
	}
	if writes, _, _ := s.totals(); writes != objects {
		t.Errorf("the recovery made %d status writes for %d objects (%d more failed attempts), want one each", writes, objects, s.attempts-attempts)
	}
	s.runUntil(s.clk.Now().Add(2 * interval))
	if writes, notReady, _ := s.totals(); writes != 0 || notReady != 0 {
		t.Errorf("two unchanged intervals after the recovery made %d writes (%d flaps), want 0", writes, notReady)
	}
}
