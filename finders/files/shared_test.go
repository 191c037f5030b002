package files

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// sharedFixture is an image pushed to a test registry, and the fetch that
// Shared.Index calls for it, counting its calls.
type sharedFixture struct {
	reg     *testregistry.Registry
	digest  string
	fetches atomic.Int32
	img     v1.Image
}

func newSharedFixture(t *testing.T, reg *testregistry.Registry, tag string, img v1.Image) *sharedFixture {
	t.Helper()
	d := reg.PushImage(t, repo, tag, img)
	return &sharedFixture{reg: reg, digest: d.String(), img: img}
}

func (f *sharedFixture) fetch(t *testing.T) func(context.Context) (*Resolution, error) {
	return func(context.Context) (*Resolution, error) {
		f.fetches.Add(1)
		rawManifest, err := f.img.RawManifest()
		if err != nil {
			return nil, err
		}
		rawConfig, err := f.img.RawConfigFile()
		if err != nil {
			return nil, err
		}
		return &Resolution{
			Options: manifests.Options{Network: manifests.Network{Insecure: true, Transport: f.reg.Transport(), RetryBackoff: &quickRetry}},
			Result:  &manifests.Result{Summary: manifests.Summary{ImageRef: f.reg.Host() + "/" + repo + "@" + f.digest}, RawManifest: rawManifest, RawConfig: rawConfig},
		}, nil
	}
}

func newShared(t *testing.T, dir string) *Shared {
	t.Helper()
	c, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Shared{Indexer: &Indexer{Cache: c}}
}

func TestSharedCoalescesOneDigest(t *testing.T) {
	img := imageOf(t, mergeFixtures["whiteouts and opaque dirs"]...)
	f := newSharedFixture(t, testregistry.New(t, testregistry.Options{}), "v1", img)
	s := newShared(t, t.TempDir())
	const callers = 8
	release := make(chan struct{})
	var waiting sync.WaitGroup
	waiting.Add(callers)
	s.joined = func(string) { waiting.Done() }
	fetch := f.fetch(t)
	gated := func(ctx context.Context) (*Resolution, error) {
		<-release
		return fetch(ctx)
	}
	f.reg.Log().Reset()
	views := make([]*View, callers)
	errs := make([]error, callers)
	var done sync.WaitGroup
	for i := range callers {
		done.Add(1)
		go func() {
			defer done.Done()
			views[i], errs[i] = s.Index(context.Background(), f.digest, gated)
		}()
	}
	waiting.Wait() // every caller is on the flight before it may start
	close(release)
	done.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if diff := cmp.Diff(views[0], views[i]); diff != "" {
			t.Errorf("caller %d got another view:\n%s", i, diff)
		}
	}
	if diff := cmp.Diff(indexImage(t, img), views[0]); diff != "" {
		t.Errorf("view differs from the local index (-local +shared):\n%s", diff)
	}
	layers, _ := img.Layers()
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for %d concurrent callers, want 1", n, callers)
	}
	if got := f.reg.Log().BlobGETs(); got != len(layers) {
		t.Errorf("%d blob GETs for %d callers of a %d-layer image, want %d:\n%s", got, callers, len(layers), len(layers), f.reg.Log())
	}
}

func TestSharedLayerOfTwoImagesIndexedOnce(t *testing.T) {
	base := []tf{dir("etc/", 0o755), file("etc/os-release", 0o644, "ID=test")}
	reg := testregistry.New(t, testregistry.Options{})
	a := newSharedFixture(t, reg, "a", imageOf(t, base, []tf{file("app-a", 0o755, "a")}))
	b := newSharedFixture(t, reg, "b", imageOf(t, base, []tf{file("app-b", 0o755, "b")}))
	s := newShared(t, t.TempDir())
	if _, err := s.Index(context.Background(), a.digest, a.fetch(t)); err != nil {
		t.Fatal(err)
	}
	reg.Log().Reset()
	v, err := s.Index(context.Background(), b.digest, b.fetch(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Log().BlobGETs(); got != 1 {
		t.Errorf("%d blob GETs for image b, want 1 (its base layer is image a's):\n%s", got, reg.Log())
	}
	if len(v.Files) != 3 || v.Files[2].Path != "/etc/os-release" || v.Files[0].Path != "/app-b" {
		t.Errorf("files of b = %+v", v.Files)
	}
}

func TestSharedCachedMakesNoRequest(t *testing.T) {
	img := imageOf(t, mergeFixtures["links, setuid and long names"]...)
	f := newSharedFixture(t, testregistry.New(t, testregistry.Options{}), "v1", img)
	dir := t.TempDir()
	s := newShared(t, dir)
	if _, err := s.Cached(f.digest); !errors.Is(err, ErrNotIndexed) {
		t.Fatalf("Cached before Index: %v, want ErrNotIndexed", err)
	}
	want, err := s.Index(context.Background(), f.digest, f.fetch(t))
	if err != nil {
		t.Fatal(err)
	}
	f.reg.Log().Reset()
	// Another process on the same directory (a restarted manager) too.
	for name, s := range map[string]*Shared{"same": s, "restarted": newShared(t, dir)} {
		got, err := s.Cached(f.digest)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: cached view differs (-indexed +cached):\n%s", name, diff)
		}
	}
	if n := len(f.reg.Log().Requests()); n != 0 {
		t.Errorf("Cached made %d requests:\n%s", n, f.reg.Log())
	}
}

func TestSharedRemembersTerminalFailures(t *testing.T) {
	img := imageOf(t, mergeFixtures["links, setuid and long names"]...)
	f := newSharedFixture(t, testregistry.New(t, testregistry.Options{}), "v1", img)
	other := gzipOf(t, tarOf(t, file("evil", 0o644, "x")))
	f.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.Contains(req.URL.Path, "/blobs/") || req.Method != http.MethodGet {
			return false
		}
		_, _ = w.Write(other)
		return true
	})
	s := newShared(t, t.TempDir())
	for i := range 2 {
		_, err := s.Index(context.Background(), f.digest, f.fetch(t))
		var me *DigestMismatchError
		if !errors.As(err, &me) || !Terminal(err) {
			t.Fatalf("call %d: err = %v, want a terminal DigestMismatchError", i, err)
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1: the terminal failure is answered from memory", n)
	}
	// A failure the registry may fix is not remembered.
	transient := errors.New("connection refused")
	s2 := newShared(t, t.TempDir())
	for range 2 {
		if _, err := s2.Index(context.Background(), f.digest, func(context.Context) (*Resolution, error) { return nil, transient }); !errors.Is(err, transient) || Terminal(err) {
			t.Fatalf("err = %v", err)
		}
	}
	if s2.failure(f.digest) != nil {
		t.Errorf("a transient failure was remembered")
	}
}

func TestSharedImagesBounded(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	s := newShared(t, t.TempDir())
	s.MaxImages = 1
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	open, maxOpen := 0, 0
	var done sync.WaitGroup
	for i := range 3 {
		f := newSharedFixture(t, reg, fmt.Sprintf("t%d", i), imageOf(t, []tf{file(fmt.Sprintf("f%d", i), 0o644, "x")}))
		fetch := f.fetch(t)
		done.Add(1)
		go func() {
			defer done.Done()
			_, err := s.Index(context.Background(), f.digest, func(ctx context.Context) (*Resolution, error) {
				mu.Lock()
				open++
				maxOpen = max(maxOpen, open)
				mu.Unlock()
				entered <- struct{}{}
				<-release
				mu.Lock()
				open--
				mu.Unlock()
				return fetch(ctx)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	for range 3 {
		<-entered
		release <- struct{}{}
	}
	done.Wait()
	if maxOpen != 1 {
		t.Errorf("%d images indexed at once, want at most MaxImages = 1", maxOpen)
	}
}
