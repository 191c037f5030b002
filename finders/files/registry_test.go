package files

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

const repo = "test/files"

// pushed is an image pushed to a test registry, with its layer descriptors.
type pushed struct {
	reg   *testregistry.Registry
	src   *Registry
	descs []Descriptor
}

// pushImage pushes img and connects a Registry to its repository.
func pushImage(t *testing.T, reg *testregistry.Registry, img v1.Image) *pushed {
	t.Helper()
	reg.PushImage(t, repo, "v1", img)
	rawManifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	descs, err := Descriptors(rawManifest, rawConfig)
	if err != nil {
		t.Fatal(err)
	}
	return &pushed{reg: reg, src: connect(t, reg), descs: descs}
}

func connect(t *testing.T, reg *testregistry.Registry) *Registry {
	t.Helper()
	src, err := NewRegistry(context.Background(), RegistryOptions{Repository: reg.Host() + "/" + repo, Insecure: true, Transport: reg.Transport(),
		RetryBackoff: &quickRetry})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var quickRetry = backoff()

func TestIndexFromRegistry(t *testing.T) {
	img := imageOf(t, mergeFixtures["whiteouts and opaque dirs"]...)
	p := pushImage(t, testregistry.New(t, testregistry.Options{}), img)
	p.reg.Log().Reset()
	ix := &Indexer{}
	layers, err := ix.Layers(context.Background(), p.src, p.descs)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.reg.Log().BlobGETs(); got != len(p.descs) {
		t.Errorf("%d blob GETs for %d layers:\n%s", got, len(p.descs), p.reg.Log())
	}
	if diff := cmp.Diff(indexImage(t, img), Merge(layers)); diff != "" {
		t.Errorf("view from the registry differs from the local one (-local +registry):\n%s", diff)
	}
}

func TestIndexPlainHTTPRefused(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	_, err := NewRegistry(context.Background(), RegistryOptions{Repository: reg.Host() + "/" + repo, Transport: reg.Transport(), RetryBackoff: &quickRetry})
	if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Fatalf("err = %v, want plain HTTP refused", err)
	}
}

func TestIndexBlobDigestMismatch(t *testing.T) {
	img := imageOf(t, mergeFixtures["links, setuid and long names"]...)
	p := pushImage(t, testregistry.New(t, testregistry.Options{}), img)
	other := gzipOf(t, tarOf(t, file("evil", 0o644, "x")))
	p.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.Contains(req.URL.Path, "/blobs/"+p.descs[1].Digest) {
			return false
		}
		w.Write(other)
		return true
	})
	_, err := (&Indexer{}).Layers(context.Background(), p.src, p.descs)
	var me *DigestMismatchError
	if !errors.As(err, &me) || me.Layer != p.descs[1].Digest {
		t.Fatalf("err = %v, want a DigestMismatchError for layer 1", err)
	}
	if !strings.Contains(err.Error(), "layer 1: ") {
		t.Errorf("error %q does not name the layer index", err)
	}
}

// gatedSource lets at most the calls the test releases through, and records
// the most blobs open at once.
type gatedSource struct {
	BlobSource
	mu      sync.Mutex
	open    int
	maxOpen int
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSource) Blob(ctx context.Context, digest string) (io.ReadCloser, error) {
	g.mu.Lock()
	g.open++
	g.maxOpen = max(g.maxOpen, g.open)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.open--
		g.mu.Unlock()
	}()
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.BlobSource.Blob(ctx, digest)
}

func TestIndexConcurrencyBounded(t *testing.T) {
	var layers [][]tf
	for i := range 7 {
		layers = append(layers, []tf{file("f"+itoa(i), 0o644, strings.Repeat("x", i))})
	}
	p := pushImage(t, testregistry.New(t, testregistry.Options{}), imageOf(t, layers...))
	g := &gatedSource{BlobSource: p.src, entered: make(chan struct{}, 7), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := (&Indexer{Concurrency: 3}).Layers(context.Background(), g, p.descs)
		done <- err
	}()
	// Three enter before any is released: the layers run concurrently.
	for range 3 {
		<-g.entered
	}
	for range 7 {
		g.release <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g.maxOpen != 3 {
		t.Errorf("at most %d layers were open at once, want 3", g.maxOpen)
	}
}

// A context cancelled while layers stream stops every worker, and no
// goroutine is left behind.
func TestIndexCancelledNoGoroutineLeft(t *testing.T) {
	var layers [][]tf
	for i := range 4 {
		layers = append(layers, []tf{{Name: "big" + itoa(i), Type: '0', Mode: 0o644, Size: 4 << 20}})
	}
	reg := testregistry.New(t, testregistry.Options{})
	p := pushImage(t, reg, imageOf(t, layers...))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 8)
	reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.Contains(req.URL.Path, "/blobs/") {
			return false
		}
		// Half a blob, then a stall until the client goes away.
		w.Header().Set("Content-Length", "10000000")
		w.WriteHeader(http.StatusOK)
		w.Write(bytes.Repeat([]byte{0x1f, 0x8b}, 1))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-req.Context().Done()
		return true
	})
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() {
		_, err := (&Indexer{Concurrency: 2}).Layers(ctx, p.src, p.descs)
		done <- err
	}()
	<-started
	<-started
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	reg.Transport().(*http.Transport).CloseIdleConnections()
	if n := settleGoroutines(before); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// settleGoroutines waits (as goleak does, by retrying) for the goroutine count
// to come back to at most want, and returns the last count.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 500 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// estargzImage pushes an image whose layers are eStargz blobs built by the
// estargz package, with the TOC digest annotation, and returns the
// descriptors and the blobs.
func estargzImage(t *testing.T, reg *testregistry.Registry, layers ...[]tf) ([]Descriptor, [][]byte) {
	t.Helper()
	var blobs [][]byte
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	cf := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
	for _, entries := range layers {
		tarBytes := tarOf(t, entries...)
		b, err := estargz.Build(io.NewSectionReader(bytes.NewReader(tarBytes), 0, int64(len(tarBytes))), estargz.WithChunkSize(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		blob, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, blob)
		h := reg.PushBlob(t, repo, blob)
		diffID, _ := v1.NewHash(b.DiffID().String())
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCILayer, Size: int64(len(blob)), Digest: h,
			Annotations: map[string]string{TOCDigestAnnotation: b.TOCDigest().String()}})
	}
	rawConfig, _ := json.Marshal(cf)
	ch := reg.PushBlob(t, repo, rawConfig)
	m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawConfig)), Digest: ch}
	rawManifest, _ := json.Marshal(m)
	reg.PushRaw(t, repo, "v1", string(types.OCIManifestSchema1), rawManifest)
	descs, err := Descriptors(rawManifest, rawConfig)
	if err != nil {
		t.Fatal(err)
	}
	return descs, blobs
}

// rangeCounter counts blob requests with and without a Range header, and the
// bytes asked for; with ignore it drops the Range header, as a registry that
// does not support it.
type rangeCounter struct {
	mu            sync.Mutex
	ranged, whole int
	ignore        bool
}

func (c *rangeCounter) fault(w http.ResponseWriter, req *http.Request) bool {
	if !strings.Contains(req.URL.Path, "/blobs/") {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Header.Get("Range") != "" {
		c.ranged++
		if c.ignore {
			req.Header.Del("Range")
		}
	} else {
		c.whole++
	}
	return false
}

var estargzLayers = [][]tf{
	{dir("etc/", 0o755), file("etc/passwd", 0o644, strings.Repeat("root:x:0:0\n", 50)), file("etc/secret", 0o600, strings.Repeat("s", 3000)),
		dir("usr/", 0o755), dir("usr/bin/", 0o755), file("usr/bin/su", 0o4755, strings.Repeat("E", 20000)), symlink("usr/bin/sh", "su"),
		hardlink("usr/bin/ln", "usr/bin/su"), tf{Name: "usr/share/" + strings.Repeat("long/", 40) + "name", Type: '0', Mode: 0o644, Size: 100000}},
	{dir("etc/", 0o755), whiteout("etc/.wh.secret"), dir("usr/", 0o755), dir("usr/bin/", 0o755), whiteout("usr/bin/.wh..wh..opq"), file("usr/bin/env", 0o755, "env")},
}

func TestIndexEStargzFastPath(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	descs, blobs := estargzImage(t, reg, estargzLayers...)
	src := connect(t, reg)
	c := &rangeCounter{}
	reg.SetFault(c.fault)
	fast, err := (&Indexer{}).Layers(context.Background(), src, descs)
	if err != nil {
		t.Fatal(err)
	}
	if c.ranged > 2*len(descs) || c.whole != 0 {
		t.Errorf("%d range and %d whole blob requests for %d eStargz layers, want at most 2 range requests per layer", c.ranged, c.whole, len(descs))
	}
	for i, l := range fast {
		if l.Source != SourceEStargz {
			t.Errorf("layer %d listed from %q, want the TOC", i, l.Source)
		}
	}

	// The same layers streamed whole give the same view.
	streamed := make([]*Layer, len(descs))
	for i, d := range descs {
		if streamed[i], err = ReadLayer(context.Background(), bytes.NewReader(blobs[i]), d, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	vf, vs := Merge(fast), Merge(streamed)
	for i := range vs.Layers {
		vs.Layers[i].Source = SourceEStargz
	}
	if diff := cmp.Diff(vs, vf, cmp.AllowUnexported()); diff != "" {
		t.Errorf("TOC view differs from the streamed one (-stream +toc):\n%s", diff)
	}
	if len(vf.Files) != 6 {
		t.Errorf("only %d files: %v", len(vf.Files), vf.Files)
	}
}

func TestIndexEStargzBytesFetched(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	noise := make([]byte, 4<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(noise) // ChaCha8.Read never fails
	big := [][]tf{{file("data/big", 0o644, string(noise)), file("data/small", 0o644, "s")}}
	descs, _ := estargzImage(t, reg, big...)
	var fetched atomic.Int64
	src := &countingSource{BlobSource: connect(t, reg), n: &fetched}
	if _, err := (&Indexer{}).Layers(context.Background(), src, descs); err != nil {
		t.Fatal(err)
	}
	if got := fetched.Load(); got*100 > descs[0].Size {
		t.Errorf("fetched %d bytes of a %d byte layer, want under 1%%", got, descs[0].Size)
	}
}

// countingSource counts the bytes its range reads return.
type countingSource struct {
	BlobSource
	n *atomic.Int64
}

func (c *countingSource) BlobRange(ctx context.Context, digest string, off, length int64) ([]byte, io.ReadCloser, error) {
	b, body, err := c.BlobSource.BlobRange(ctx, digest, off, length)
	c.n.Add(int64(len(b)))
	return b, body, err
}

func TestIndexEStargzRangeIgnored(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	descs, _ := estargzImage(t, reg, estargzLayers...)
	src := connect(t, reg)
	c := &rangeCounter{ignore: true}
	reg.SetFault(c.fault)
	layers, err := (&Indexer{}).Layers(context.Background(), src, descs)
	if err != nil {
		t.Fatal(err)
	}
	// One request per layer: the ignored Range request's body is the stream.
	if c.ranged != len(descs) || c.whole != 0 {
		t.Errorf("%d range and %d whole requests, want %d range requests whose bodies are streamed", c.ranged, c.whole, len(descs))
	}
	for i, l := range layers {
		if l.Source != SourceStream || l.UncompressedSize == 0 {
			t.Errorf("layer %d: source %q, %d uncompressed bytes; want the verified stream", i, l.Source, l.UncompressedSize)
		}
	}
}

func TestIndexEStargzTOCMismatch(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	descs, _ := estargzImage(t, reg, estargzLayers...)
	descs[1].TOCDigest = sha([]byte("another TOC"))
	_, err := (&Indexer{}).Layers(context.Background(), connect(t, reg), descs)
	var me *DigestMismatchError
	if !errors.As(err, &me) || me.What != "eStargz TOC" {
		t.Fatalf("err = %v, want a TOC DigestMismatchError", err)
	}
}
