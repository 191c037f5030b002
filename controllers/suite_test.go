package controllers

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// controlPlane is the package's one control plane: the first test that calls
// controlPlane.Get starts it, and TestMain stops it after the last test. Each test
// keeps to namespaces of its own (newNamespace), and a manager it starts
// watches only those (startManager), so that tests stay independent of each
// other and of their order.
var controlPlane testenv.Shared

func TestMain(m *testing.M) { os.Exit(controlPlane.Run(m)) }

// startManager starts a manager on env whose cache holds only namespaces, with
// r set up in it, and stops it (waiting for it to return) when t ends. The
// control plane holds the objects of every test of the package; a manager
// that watched them all would reconcile them too. opts may set the cache's
// other options, the metrics address (default: none) and leader election.
func startManager(t *testing.T, env *testenv.Env, opts ctrl.Options, setup func(ctrl.Manager) error, namespaces ...string) ctrl.Manager {
	t.Helper()
	if len(namespaces) == 0 {
		t.Fatal("startManager needs the test's namespaces")
	}
	opts.Scheme = env.Scheme
	if opts.Metrics.BindAddress == "" {
		opts.Metrics.BindAddress = "0"
	}
	// Several managers in one process register a controller of the same name.
	opts.Controller.SkipNameValidation = ptr.To(true)
	opts.Cache.DefaultNamespaces = map[string]cache.Config{}
	for _, ns := range namespaces {
		opts.Cache.DefaultNamespaces[ns] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return mgr
}

// longScenario skips t under -short, which `make test` sets: a scenario that
// waits on real intervals or drives a fleet of a thousand objects runs in
// `make test-long` (and in CI), so that a warm `make test` stays short.
func longScenario(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a long scenario; `make test-long` runs it")
	}
}

// recorder is an events.EventRecorder that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []recordedEvent
}

type recordedEvent struct {
	object, eventType, reason, note string
}

func (r *recorder) Eventf(regarding runtime.Object, _ runtime.Object, eventType, reason, _ string, note string, args ...interface{}) {
	name := ""
	if o, ok := regarding.(client.Object); ok {
		name = o.GetNamespace() + "/" + o.GetName()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recordedEvent{name, eventType, reason, fmt.Sprintf(note, args...)})
}

// of returns the events recorded for obj.
func (r *recorder) of(obj client.Object) []recordedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recordedEvent
	for _, e := range r.events {
		if e.object == obj.GetNamespace()+"/"+obj.GetName() {
			out = append(out, e)
		}
	}
	return out
}

// countingFinder counts resolutions and delegates to the real finder.
type countingFinder struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *countingFinder) Resolve(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[o.Registry+"/"+o.Repository]++
	f.mu.Unlock()
	return manifests.Resolve(ctx, o)
}

func (f *countingFinder) count(registry, repo string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[registry+"/"+repo]
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// ignoreTransitionTime compares conditions without their lastTransitionTime.
var ignoreTransitionTime = cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")

// ignoreHandshake compares registry request counts without the ping and token
// requests of the handshake, which depend on whether a session was cached.
var ignoreHandshake = cmpopts.IgnoreFields(testregistry.Counts{}, "Pings", "Tokens")

// resolvedStatus is st without what a check writes whatever its outcome (the
// conditions, the generation acted on, the check time, the handled request):
// what a failed check must keep as it was.
func resolvedStatus(st imagesv1alpha1.ImageConfigStatus) imagesv1alpha1.ImageConfigStatus {
	st = *st.DeepCopy()
	st.Conditions, st.ObservedGeneration, st.LastCheckedTime, st.LastHandledReconcileAt = nil, 0, nil, ""
	return st
}

func ready(obj *imagesv1alpha1.ImageConfig) *metav1.Condition {
	return apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.ReadyCondition)
}

func conditionSummary(obj *imagesv1alpha1.ImageConfig) string {
	s := ""
	for _, c := range obj.Status.Conditions {
		s += fmt.Sprintf("%s=%s(%s: %s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}
