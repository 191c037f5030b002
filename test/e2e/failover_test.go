//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/faultproxy"
)

// Lease settings of the failover test: a takeover must come within
// lease + one interval of the leader's death.
const (
	failoverLease    = 4 * time.Second
	failoverInterval = 10 * time.Second
)

// TestLeaderFailover runs two managers with --leader-elect against one control
// plane. Only the leader contacts the registry (requests are told apart by
// User-Agent); after the leader is killed with SIGKILL, the other takes over
// within the lease duration plus one interval, resolves a new object, keeps every
// status, and does not report a tag move a second time.
func TestLeaderFailover(t *testing.T) {
	managerBin := os.Getenv("MANAGER_BIN")
	if managerBin == "" {
		t.Skip("MANAGER_BIN is not set; run `make test-e2e`")
	}
	env := testenv.Start(t)
	dir := t.TempDir()
	ctx := context.Background()
	c := env.Client

	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	for _, repo := range []string{"failover/a", "failover/b", "failover/c", "failover/new"} {
		reg.PushImage(t, repo, "v1", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{repo}}))
	}
	front := faultproxy.New(t, reg.URL(), faultproxy.Options{})

	start := func(name string) (*exec.Cmd, <-chan error) {
		t.Helper()
		m := env.StartManager(t, testenv.ManagerOptions{
			Bin: managerBin,
			Args: []string{"--leader-elect", "--leader-elect-namespace=default",
				"--leader-elect-lease-duration=" + failoverLease.String(), "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms",
				"--user-agent=" + name, "--allow-insecure-registries", "--metrics-bind-address=0", "--health-probe-bind-address=" + testenv.FreeAddr(t)},
			Log: filepath.Join(dir, name+".log"),
		})
		return m.Cmd, m.Exited
	}
	create := func(name, repo string) {
		t.Helper()
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: imagesv1alpha1.ImageConfigSpec{Registry: front.Host(), Repository: repo, Tag: "v1", Insecure: true,
				Interval: &metav1.Duration{Duration: failoverInterval}},
		}
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	digestOf := func(name string) string {
		o := &imagesv1alpha1.ImageConfig{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, o); err != nil || !apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition) {
			return ""
		}
		return o.Status.Digest
	}
	waitFor := func(what string, timeout time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(timeout); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s\nregistry requests:\n%s", what, timeout, front)
			}
		}
	}

	// Manager A starts alone and leads; B starts next and waits.
	a, _ := start("manager-a")
	for _, n := range []string{"a", "b", "c"} {
		create(n, "failover/"+n)
	}
	waitFor("manager-a resolves a, b and c", 60*time.Second, func() bool { return digestOf("a") != "" && digestOf("b") != "" && digestOf("c") != "" })
	start("manager-b")

	// Statuses are sampled throughout: a Ready digest may only change by the tag move below.
	var mu sync.Mutex
	var regressions []string
	seen := map[string]string{}
	moved := ""
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			list := &imagesv1alpha1.ImageConfigList{}
			if err := c.List(ctx, list, client.InNamespace("default")); err != nil {
				continue
			}
			mu.Lock()
			for _, o := range list.Items {
				d := o.Status.Digest
				if prev := seen[o.Name]; prev != "" && d != prev && (o.Name != "a" || d != moved) {
					regressions = append(regressions, fmt.Sprintf("%s: %s -> %q", o.Name, prev, d))
				}
				if d != "" {
					seen[o.Name] = d
				}
			}
			mu.Unlock()
		}
	}()

	// The tag of a moves while A leads; A reports it.
	mu.Lock()
	moved = reg.PushImage(t, "failover/a", "v1", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"moved"}})).String()
	mu.Unlock()
	waitFor("manager-a sees the moved tag", failoverInterval+10*time.Second, func() bool { return digestOf("a") == moved })
	// go-containerregistry appends its own name to the User-Agent.
	fromB := func(q faultproxy.Request) bool { return strings.HasPrefix(q.UserAgent, "manager-b ") }
	fromA := func(q faultproxy.Request) bool { return strings.HasPrefix(q.UserAgent, "manager-a ") }
	if front.Count(fromA) == 0 {
		t.Fatalf("no request from manager-a: the User-Agent is not told apart\n%s", front)
	}
	if n := front.Count(fromB); n != 0 {
		t.Fatalf("the standby manager sent %d registry requests:\n%s", n, front)
	}

	// SIGKILL the leader: no lease release, B must wait for the lease to expire.
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	create("new", "failover/new")
	waitFor("manager-b resolves a new object", failoverLease+failoverInterval, func() bool { return digestOf("new") != "" })
	takeover := time.Since(killed)
	t.Logf("manager-b took over and resolved a new object %s after the leader was killed (lease %s, interval %s)", takeover.Round(100*time.Millisecond), failoverLease, failoverInterval)
	for _, q := range front.Requests() {
		if fromB(q) && q.Time.Before(killed) {
			t.Errorf("manager-b contacted the registry before the leader died: %s %s", q.Method, q.Path)
		}
		if fromA(q) && q.Time.After(killed.Add(time.Second)) {
			t.Errorf("manager-a contacted the registry after it was killed: %s %s", q.Method, q.Path)
		}
	}

	// B re-checks everything within an interval; nothing regresses, the move is reported once.
	bBefore := front.Count(fromB)
	time.Sleep(failoverInterval + 2*time.Second)
	if front.Count(fromB) <= bBefore {
		t.Errorf("manager-b did not re-check within an interval:\n%s", front)
	}
	// Each of a, b and c was re-checked by B: B asked the registry for its tag.
	// (lastCheckedTime is no proof: an unchanged re-check writes no status, and
	// the field moves only with a change or the heartbeat; see docs/fleet.md.)
	for _, name := range []string{"a", "b", "c"} {
		tag := "/v2/failover/" + name + "/manifests/v1"
		if n := front.Count(func(q faultproxy.Request) bool { return fromB(q) && q.Path == tag }); n == 0 {
			t.Errorf("%s: manager-b never asked the registry for %s", name, tag)
		}
	}
	mu.Lock()
	want := map[string]string{"a": moved, "b": seen["b"], "c": seen["c"]}
	mu.Unlock()
	for name, want := range want {
		if got := digestOf(name); got == "" || got != want {
			t.Errorf("%s: Ready digest %q after the failover, want %s", name, got, want)
		}
	}
	mu.Lock()
	if len(regressions) > 0 {
		t.Errorf("statuses regressed: %v", regressions)
	}
	mu.Unlock()
	evs := &eventsv1.EventList{}
	if err := c.List(ctx, evs, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, e := range evs.Items {
		if e.Regarding.Name == "a" && e.Reason == imagesv1alpha1.DigestChangedEvent {
			changed++
			if e.Series != nil {
				changed += int(e.Series.Count) - 1
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d DigestChanged events for one move, want 1", changed)
	}
}
