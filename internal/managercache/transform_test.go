package managercache

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// fleetObjectJSON is a resolved ImageConfig on image i (two platforms, two
// layers, a config with env, cmd and labels), as a watch event carries it.
func fleetObjectJSON(t testing.TB, name string, image int) []byte {
	t.Helper()
	digest := func(kind string) string { return fmt.Sprintf("sha256:%064x", image*10+len(kind)) }
	o := &imagesv1alpha1.ImageConfig{}
	o.Name, o.Namespace, o.ResourceVersion = name, "fleet", "7"
	o.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "manager", Operation: metav1.ManagedFieldsOperationUpdate}}
	o.Spec = imagesv1alpha1.ImageConfigSpec{Registry: "registry.example", Repository: "team/app", Tag: fmt.Sprintf("t%05d", image)}
	st := &o.Status
	st.Digest, st.ManifestDigest, st.ConfigDigest = digest("index"), digest("manifest"), digest("config")
	st.ImageRef, st.Platform = "registry.example/team/app:"+o.Spec.Tag, "linux/amd64"
	st.Conditions = []metav1.Condition{{Type: imagesv1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: "Resolved", Message: "Resolved " + st.ImageRef}}
	st.Platforms = []imagesv1alpha1.IndexEntry{{OS: "linux", Architecture: "amd64", Digest: digest("amd64")}, {OS: "linux", Architecture: "arm64", Digest: digest("arm64")}}
	st.Config = &imagesv1alpha1.ImageBuildConfig{Env: []string{"PATH=/usr/bin:/bin", fmt.Sprintf("TAG=t%05d", image)}, Cmd: []string{"/app"},
		Labels: map[string]string{"tag": fmt.Sprintf("t%05d", image)}, OS: "linux", Architecture: "amd64"}
	st.Layers = []imagesv1alpha1.Layer{{Digest: digest("base"), Size: 1 << 20, CreatedBy: "ADD rootfs.tar /"}, {Digest: digest("app"), Size: 4096, CreatedBy: "COPY app /app"}}
	st.Referrers = &imagesv1alpha1.ReferrersStatus{Digest: st.Digest}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, b []byte) *imagesv1alpha1.ImageConfig {
	t.Helper()
	o := &imagesv1alpha1.ImageConfig{}
	if err := json.Unmarshal(b, o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestSharedParts: objects on one image share one copy of its config, layers,
// index entries and referrers; each object still reads exactly what its watch
// event carried; and a part no object holds any more leaves the table.
func TestSharedParts(t *testing.T) {
	p := newSharedParts()
	a, b := fleetObjectJSON(t, "a", 1), fleetObjectJSON(t, "b", 1)
	oa, ob := decode(t, a), decode(t, b)
	p.share(&oa.Status)
	p.share(&ob.Status)
	for _, o := range []struct {
		got  *imagesv1alpha1.ImageConfig
		json []byte
	}{{oa, a}, {ob, b}} {
		if diff := cmp.Diff(decode(t, o.json).Status, o.got.Status); diff != "" {
			t.Errorf("%s's status after sharing (-want +got):\n%s", o.got.Name, diff)
		}
	}
	if oa.Status.Config != ob.Status.Config || oa.Status.Referrers != ob.Status.Referrers ||
		&oa.Status.Layers[0] != &ob.Status.Layers[0] || &oa.Status.Platforms[0] != &ob.Status.Platforms[0] {
		t.Error("two objects on one image hold their own copies of its parts")
	}

	// Another image shares nothing with the first.
	oc := decode(t, fleetObjectJSON(t, "c", 2))
	p.share(&oc.Status)
	if oc.Status.Config == oa.Status.Config || &oc.Status.Layers[0] == &oa.Status.Layers[0] {
		t.Error("objects on two images share parts")
	}

	// A part that differs under the same digest (the table's copy is not what
	// this event carries) is not taken from the table.
	od := decode(t, a)
	od.Status.Config.Cmd = []string{"/other"}
	od.Status.Layers[1].CreatedBy = "RUN other"
	want := od.Status.DeepCopy()
	p.share(&od.Status)
	if diff := cmp.Diff(*want, od.Status); diff != "" {
		t.Errorf("a differing part was replaced by the table's (-want +got):\n%s", diff)
	}

	// Once no object holds image 2's parts, its entries are collected.
	oc = nil
	runtime.GC()
	runtime.GC()
	p.mu.Lock()
	defer p.mu.Unlock()
	if got := p.configs.get(fmt.Sprintf("sha256:%064x", 2*10+len("config"))); got != nil {
		t.Errorf("image 2's config is still in the table after its last object went: %v", got)
	}
	runtime.KeepAlive(oa)
	runtime.KeepAlive(ob)
}

// BenchmarkCacheTransformFleet reports the heap that the informer cache keeps
// per ImageConfig for a fleet of 10 objects per image, with the status parts
// shared and with strings interned only.
func BenchmarkCacheTransformFleet(b *testing.B) {
	const objects, perImage = 5000, 10
	events := make([][]byte, objects)
	for i := range events {
		events[i] = fleetObjectJSON(b, fmt.Sprintf("app-%05d", i), i/perImage)
	}
	for _, bc := range []struct {
		name  string
		parts func() *sharedParts
	}{{"shared", newSharedParts}, {"interned-only", func() *sharedParts { return nil }}} {
		b.Run(bc.name, func(b *testing.B) {
			var perObject float64
			for b.Loop() {
				p := bc.parts()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cache := make([]*imagesv1alpha1.ImageConfig, objects)
				for i, ev := range events {
					o := decode(b, ev)
					o.ManagedFields = nil
					p.share(&o.Status)
					cache[i] = o
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perObject = float64(after.HeapAlloc-before.HeapAlloc) / objects
				runtime.KeepAlive(cache)
			}
			b.ReportMetric(perObject, "heap-B/object")
		})
	}
}
