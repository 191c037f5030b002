package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/managercache"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// testSharding: two managers on one control plane, one for the objects labelled
// shard1 and the main one for the unlabelled. Each object is resolved by exactly
// one of them, and a relabelled object moves over.
func testSharding(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	for i := range 8 {
		reg.PushIndex(t, "demo/hello", fmt.Sprintf("obj-%d", i), idx) // one tag per object: the finder sees who it resolves
	}
	ctx := context.Background()
	ns := newNamespace(t, env.Client)

	type shard struct {
		mu       sync.Mutex
		resolved map[string]int // tag, which is the object's name -> resolutions
	}
	start := func(selector string) *shard {
		sel, err := managercache.ParseWatchSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		s := &shard{resolved: map[string]int{}}
		finder := FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
			s.mu.Lock()
			s.resolved[o.Tag]++
			s.mu.Unlock()
			return manifests.Resolve(ctx, o)
		})
		startManager(t, env, ctrl.Options{Cache: managercache.CacheOptions(sel)}, func(mgr ctrl.Manager) error {
			r := &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: &recorder{}, AllowInsecureRegistries: true,
				Finder: finder}
			return r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 4})
		}, ns)
		return s
	}
	shard1 := start(managercache.ShardLabel + "=shard1")
	main := start("!" + managercache.ShardLabel)
	snapshot := func(s *shard) map[string]int {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := map[string]int{}
		for k, v := range s.resolved {
			out[k] = v
		}
		return out
	}

	g := NewWithT(t)
	var want1, wantMain []string
	for i := range 8 {
		o := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("obj-%d", i), Namespace: ns},
			Spec:       imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "demo/hello", Tag: fmt.Sprintf("obj-%d", i), Insecure: true},
		}
		if i%2 == 0 {
			o.Labels = map[string]string{managercache.ShardLabel: "shard1"}
			want1 = append(want1, o.Name)
		} else {
			wantMain = append(wantMain, o.Name)
		}
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
	}
	allReady := func() bool {
		list := &imagesv1alpha1.ImageConfigList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false
		}
		for _, o := range list.Items {
			if c := ready(&o); c == nil || c.Status != metav1.ConditionTrue {
				return false
			}
		}
		return len(list.Items) == 8
	}
	g.Eventually(allReady, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	time.Sleep(time.Second) // any stray resolution by the wrong shard would show now
	names := func(m map[string]int) []string {
		out := slices.Collect(maps.Keys(m))
		slices.Sort(out)
		return out
	}
	g.Expect(names(snapshot(shard1))).To(Equal(want1), "shard1 resolved")
	g.Expect(names(snapshot(main))).To(Equal(wantMain), "main resolved")

	// obj-0 leaves shard1 for the main instance; a requested re-check shows who serves it now.
	moved := &imagesv1alpha1.ImageConfig{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "obj-0"}, moved)).To(Succeed())
	delete(moved.Labels, managercache.ShardLabel)
	moved.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "moved"}
	before1 := snapshot(shard1)["obj-0"]
	g.Expect(env.Client.Update(ctx, moved)).To(Succeed())
	g.Eventually(func() int { return snapshot(main)["obj-0"] }, 30*time.Second, 100*time.Millisecond).Should(Equal(1))
	g.Eventually(func() string {
		o := &imagesv1alpha1.ImageConfig{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(moved), o)
		return o.Status.LastHandledReconcileAt
	}, 30*time.Second, 100*time.Millisecond).Should(Equal("moved"))
	time.Sleep(time.Second)
	g.Expect(snapshot(shard1)["obj-0"]).To(Equal(before1), "shard1 still resolves an object it no longer selects")
}
