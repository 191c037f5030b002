package controllers

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/internal/demo"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// wait blocks until the job of digest has finished.
func (j *filesJobs) wait(t *testing.T, digest string) {
	t.Helper()
	j.mu.Lock()
	job := j.jobs[digest]
	j.mu.Unlock()
	if job == nil {
		t.Fatalf("no indexing job for %s", digest)
	}
	<-job.finished
}

// gatedIndexer counts its calls and holds each until the test releases it.
type gatedIndexer struct {
	FilesIndexer
	calls   atomic.Int32
	release chan struct{}
	once    sync.Once
}

func (g *gatedIndexer) Index(ctx context.Context, digest string, fetch func(context.Context) (*files.Resolution, error)) (*files.View, error) {
	g.calls.Add(1)
	<-g.release
	return g.FilesIndexer.Index(ctx, digest, fetch)
}

func (g *gatedIndexer) open() { g.once.Do(func() { close(g.release) }) }

func filesIndexed(obj *imagesv1alpha1.ImageConfig) *metav1.Condition {
	return apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
}

// layerGETs counts the GETs of the given blobs.
func layerGETs(reg *testregistry.Registry, digests []string) int {
	n := 0
	for _, r := range reg.Log().Requests() {
		for _, d := range digests {
			if r.Method == "GET" && strings.HasSuffix(r.Path, "/blobs/"+d) {
				n++
			}
		}
	}
	return n
}

func TestFilesIndex(t *testing.T) {
	env := controlPlane.Get(t)
	h := newHarness(t, env)
	img, err := demo.FilesImage()
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest := h.reg.PushImage(t, demo.FilesRepository, "1.0", img).String()
	layers, _ := img.Layers()
	var layerDigests []string
	for _, l := range layers {
		d, _ := l.Digest()
		layerDigests = append(layerDigests, d.String())
	}
	cache, err := files.OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ix := &gatedIndexer{FilesIndexer: &files.Shared{Indexer: &files.Indexer{Cache: cache}}, release: make(chan struct{})}
	t.Cleanup(ix.open)
	h.r.FilesIndexer = ix
	clock := time.Now()
	h.r.Now = func() time.Time { return clock }
	onFiles := func(index bool) func(*imagesv1alpha1.ImageConfigSpec) {
		return func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Repository, s.Tag, s.Platform = demo.FilesRepository, "1.0", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}
			if index {
				s.Files = &imagesv1alpha1.FilesSpec{Index: true}
			}
		}
	}

	t.Run("an object without spec.files makes no layer blob request", func(t *testing.T) {
		h.reg.Log().Reset()
		_, err, got := h.reconcile(h.create("plain", onFiles(false)))
		if err != nil || !apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.ReadyCondition) {
			t.Fatalf("err %v, %s", err, conditionSummary(got))
		}
		if n := layerGETs(h.reg, layerDigests); n != 0 || got.Status.Files != nil || filesIndexed(got) != nil {
			t.Errorf("%d layer GETs, files %+v, FilesIndexed %+v; want none:\n%s", n, got.Status.Files, filesIndexed(got), h.reg.Log())
		}
		if ix.calls.Load() != 0 {
			t.Errorf("the indexer was called")
		}
	})

	a := h.create("files-a", onFiles(true))
	b := h.create("files-b", onFiles(true))
	t.Run("indexing does not hold up Ready, and objects on one digest share one job", func(t *testing.T) {
		h.reg.Log().Reset()
		for _, obj := range []*imagesv1alpha1.ImageConfig{a, b} {
			_, err, got := h.reconcile(obj) // the indexer is held: the job cannot have finished
			if err != nil {
				t.Fatal(err)
			}
			c := filesIndexed(got)
			if !apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.ReadyCondition) || got.Status.ManifestDigest != manifestDigest ||
				c == nil || c.Status != metav1.ConditionUnknown || c.Reason != imagesv1alpha1.FilesIndexingReason || got.Status.Files != nil {
				t.Fatalf("%s while indexing: %s files %+v", obj.Name, conditionSummary(got), got.Status.Files)
			}
		}
		ix.open()
		h.r.fileJobs().wait(t, manifestDigest)
		if n := ix.calls.Load(); n != 1 {
			t.Errorf("%d indexings for two objects on one digest, want 1", n)
		}
		if n := layerGETs(h.reg, layerDigests); n != len(layerDigests) {
			t.Errorf("%d layer GETs, want %d (one per layer):\n%s", n, len(layerDigests), h.reg.Log())
		}
	})

	want := &imagesv1alpha1.FilesStatus{
		ManifestDigest: manifestDigest,
		// The base adds 12 entries, the npm layer 6; the last deletes .npmrc and
		// APKINDEX and rewrites root/, var/cache/apk/, etc/ and etc/app.conf.
		Layers: []imagesv1alpha1.FilesLayer{
			{Index: 0, Digest: layerDigests[0], Added: 12, WastedBytes: 12013},
			{Index: 1, Digest: layerDigests[1], Added: 6, WastedBytes: 70},
			{Index: 2, Digest: layerDigests[2], Modified: 4, Deleted: 2},
		},
		FileCount:   16,
		WastedBytes: 12013 + 70, // APKINDEX and the first app.conf; .npmrc
		Findings: []imagesv1alpha1.FindingCount{
			{Kind: files.FindingDeletedButPresent, Count: 2},
			{Kind: files.FindingSetuid, Count: 1},
			{Kind: files.FindingWorldWritable, Count: 1},
			{Kind: files.FindingOverwritten, Count: 1},
			{Kind: files.FindingWastedBytes, Count: 2},
		},
		Examples: []imagesv1alpha1.FileFinding{
			{Kind: files.FindingDeletedButPresent, Path: "/var/cache/apk/APKINDEX.tar.gz", Layer: 0, Bytes: 12000},
			{Kind: files.FindingSetuid, Path: "/usr/bin/passwd", Layer: 0, Bytes: 11},
			{Kind: files.FindingWorldWritable, Path: "/app/uploads", Layer: 1},
			{Kind: files.FindingOverwritten, Path: "/etc/app.conf", Layer: 0, Bytes: 13},
			{Kind: files.FindingWastedBytes, Layer: 0, Bytes: 12013},
			{Kind: files.FindingDeletedButPresent, Path: "/root/.npmrc", Layer: 1, Bytes: 70},
			{Kind: files.FindingWastedBytes, Layer: 1, Bytes: 70},
		},
	}
	t.Run("the finished index is written to every waiting object without a registry request", func(t *testing.T) {
		h.reg.Log().Reset()
		for _, obj := range []*imagesv1alpha1.ImageConfig{a, b} {
			_, err, got := h.reconcile(obj)
			if err != nil {
				t.Fatal(err)
			}
			if c := filesIndexed(got); c == nil || c.Status != metav1.ConditionTrue || c.Reason != imagesv1alpha1.FilesIndexedReason {
				t.Errorf("%s: FilesIndexed = %+v", obj.Name, c)
			}
			if diff := cmp.Diff(want, got.Status.Files); diff != "" {
				t.Errorf("%s: status.files (-want +got):\n%s", obj.Name, diff)
			}
		}
		if n := len(h.reg.Log().Requests()); n != 0 {
			t.Errorf("%d registry requests to write a finished index:\n%s", n, h.reg.Log())
		}
	})

	t.Run("an object that comes later gets the index in its first reconcile", func(t *testing.T) {
		h.reg.Log().Reset()
		_, err, got := h.reconcile(h.create("files-c", onFiles(true)))
		if err != nil || got.Status.Files == nil || !apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.FilesIndexedCondition) {
			t.Fatalf("err %v, %s, files %+v", err, conditionSummary(got), got.Status.Files)
		}
		if n := layerGETs(h.reg, layerDigests); n != 0 || ix.calls.Load() != 1 {
			t.Errorf("%d layer GETs, %d indexings; want 0 and still 1", n, ix.calls.Load())
		}
	})

	t.Run("a re-check of an unchanged digest neither indexes nor writes", func(t *testing.T) {
		_, _, before := h.reconcile(a)
		clock = clock.Add(2 * time.Hour) // past the 1h interval, within the status heartbeat
		h.reg.Log().Reset()
		_, err, got := h.reconcile(a)
		if err != nil {
			t.Fatal(err)
		}
		if h.reg.Log().ManifestHEADs() == 0 {
			t.Fatalf("no re-check was made:\n%s", h.reg.Log())
		}
		if got.ResourceVersion != before.ResourceVersion || layerGETs(h.reg, layerDigests) != 0 || ix.calls.Load() != 1 {
			t.Errorf("resourceVersion %s -> %s, %d layer GETs, %d indexings: want no write and no indexing:\n%s",
				before.ResourceVersion, got.ResourceVersion, layerGETs(h.reg, layerDigests), ix.calls.Load(), h.reg.Log())
		}
	})

	t.Run("turning the index off removes status.files", func(t *testing.T) {
		h.update(b, func(o *imagesv1alpha1.ImageConfig) { o.Spec.Files = nil })
		_, err, got := h.reconcile(b)
		if err != nil || got.Status.Files != nil || filesIndexed(got) != nil || got.Status.ManifestDigest != manifestDigest {
			t.Errorf("err %v, files %+v, %s", err, got.Status.Files, conditionSummary(got))
		}
	})

	t.Run("a failed index is its own condition and event; Ready and the digests stay", func(t *testing.T) {
		// testregistry.Image's layers are not tars.
		bad := h.reg.PushImage(t, "research/notar", "1", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"not a tar"}})).String()
		obj := h.create("files-bad", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Repository, s.Tag, s.Platform = "research/notar", "1", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}
			s.Files = &imagesv1alpha1.FilesSpec{Index: true}
		})
		if _, err, _ := h.reconcile(obj); err != nil {
			t.Fatal(err)
		}
		h.r.fileJobs().wait(t, bad)
		_, err, got := h.reconcile(obj)
		if err != nil {
			t.Fatal(err)
		}
		c := filesIndexed(got)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != imagesv1alpha1.InvalidLayerReason || !strings.Contains(c.Message, "invalid tar") {
			t.Errorf("FilesIndexed = %+v, want False/InvalidLayer", c)
		}
		if !apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.ReadyCondition) || got.Status.ManifestDigest != bad || got.Status.Digest != bad || got.Status.Files != nil {
			t.Errorf("after a failed index: %s, digests %s %s, files %+v", conditionSummary(got), got.Status.Digest, got.Status.ManifestDigest, got.Status.Files)
		}
		evs := h.rec.of(obj)
		if len(evs) != 1 || evs[0].eventType != "Warning" || evs[0].reason != imagesv1alpha1.InvalidLayerReason {
			t.Errorf("events = %+v, want one Warning InvalidLayer", evs)
		}

		// The next re-check tries again; the failure is remembered for that
		// digest, so nothing is fetched and nothing is written.
		clock = clock.Add(2 * time.Hour)
		h.reg.Log().Reset()
		if _, err, _ := h.reconcile(obj); err != nil {
			t.Fatal(err)
		}
		h.r.fileJobs().wait(t, bad)
		_, _, again := h.reconcile(obj)
		if again.ResourceVersion != got.ResourceVersion || len(h.rec.of(obj)) != 1 {
			t.Errorf("resourceVersion %s -> %s, %d events: a retry that fails the same way wrote", got.ResourceVersion, again.ResourceVersion, len(h.rec.of(obj)))
		}
		if n := h.reg.Log().BlobGETs() + h.reg.Log().ManifestGETs(); n != 0 {
			t.Errorf("%d GETs on the retry of a remembered failure, want 0:\n%s", n, h.reg.Log())
		}
	})
}

// TestFilesIndexManager runs the controller in a manager: the end of an
// indexing job queues the object again, and its status gets the summary
// without waiting for the re-check interval.
func TestFilesIndexManager(t *testing.T) {
	longScenario(t)
	env := controlPlane.Get(t)
	ctx := context.Background()
	ns := newNamespace(t, env.Client)
	cache, err := files.OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	startManager(t, env, ctrl.Options{}, func(mgr ctrl.Manager) error {
		r := &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Finder: RegistryFinder, Recorder: &recorder{}, AllowInsecureRegistries: true,
			FilesIndexer: &files.Shared{Indexer: &files.Indexer{Cache: cache}}}
		return r.SetupWithManager(mgr, SetupOptions{MaxConcurrentReconciles: 2})
	}, ns)

	reg := testregistry.New(t, testregistry.Options{})
	img, err := demo.FilesImage()
	if err != nil {
		t.Fatal(err)
	}
	digest := reg.PushImage(t, demo.FilesRepository, "1.0", img).String()
	obj := &imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "files", Namespace: ns},
		Spec: imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: demo.FilesRepository, Tag: "1.0", Insecure: true,
			Files: &imagesv1alpha1.FilesSpec{Index: true}},
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	g := NewWithT(t)
	g.Eventually(func() string {
		got := &imagesv1alpha1.ImageConfig{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil || got.Status.Files == nil {
			return ""
		}
		return got.Status.Files.ManifestDigest + " " + filesIndexed(got).Reason
	}, 30*time.Second, 100*time.Millisecond).Should(Equal(digest + " " + imagesv1alpha1.FilesIndexedReason))
}
