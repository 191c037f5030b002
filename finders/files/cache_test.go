package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

func TestCacheSecondListingNoBlobRequest(t *testing.T) {
	img := imageOf(t, mergeFixtures["whiteouts and opaque dirs"]...)
	p := pushImage(t, testregistry.New(t, testregistry.Options{}), img)
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := (&Indexer{Cache: cache}).Layers(context.Background(), p.src, p.descs)
	if err != nil {
		t.Fatal(err)
	}
	p.reg.Log().Reset()
	// Another process (a new Indexer and Cache on the same directory) lists it again.
	again, _ := OpenCache(cache.dir, 0)
	second, err := (&Indexer{Cache: again}).Layers(context.Background(), p.src, p.descs)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.reg.Log().BlobGETs(); n != 0 {
		t.Errorf("second listing made %d blob requests:\n%s", n, p.reg.Log())
	}
	for _, l := range second {
		if !l.Cached {
			t.Errorf("layer %s not from the cache", l.Digest)
		}
	}
	if diff := cmp.Diff(Merge(first), Merge(second)); diff != "" {
		t.Errorf("cached view differs (-first +second):\n%s", diff)
	}
}

func TestCacheEviction(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir, 3000)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	layer := func(i int) *Layer {
		l := &Layer{DiffID: sha([]byte{byte(i)}), Source: SourceStream}
		for j := range 40 {
			l.Entries = append(l.Entries, Entry{Path: "/f" + itoa(i*100+j) + strings.Repeat("x", j), Type: TypeFile, Size: int64(j * i)})
		}
		return l
	}
	for i := range 10 {
		c.Put(layer(i))
		// Each file's use time is its write time, one minute apart; reading layer 0 renews it.
		name := c.key(Descriptor{DiffID: layer(i).DiffID}, SourceStream)
		if _, err := os.Stat(name); err == nil {
			if err := os.Chtimes(name, clock, clock); err != nil {
				t.Fatal(err)
			}
		}
		clock = clock.Add(time.Minute)
		if c.Get(Descriptor{DiffID: layer(0).DiffID}) == nil && i < 3 {
			t.Fatalf("layer 0 evicted after %d puts", i+1)
		}
	}
	if got := c.Size(); got > 3000 {
		t.Errorf("cache holds %d bytes, over its cap of 3000", got)
	}
	if c.Get(Descriptor{DiffID: layer(0).DiffID}) == nil {
		t.Errorf("the most recently used layer was evicted")
	}
	if c.Get(Descriptor{DiffID: layer(1).DiffID}) != nil {
		t.Errorf("the least recently used layer was kept")
	}
}

func TestCacheKeys(t *testing.T) {
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	diffID := sha([]byte("tar"))
	toc := &Layer{DiffID: diffID, Source: SourceEStargz, TOCDigest: sha([]byte("toc")), Entries: []Entry{{Path: "/from-toc", Type: TypeFile}}}
	c.Put(toc)
	if c.Get(Descriptor{DiffID: diffID}) != nil {
		t.Errorf("an index listed from a TOC serves a layer without that TOC digest")
	}
	if l := c.Get(Descriptor{DiffID: diffID, TOCDigest: toc.TOCDigest}); l == nil || l.Entries[0].Path != "/from-toc" {
		t.Errorf("the TOC index is not found by diffID and TOC digest: %v", l)
	}
	c.Put(&Layer{DiffID: "../../etc/passwd", Source: SourceStream})
	if c.Get(Descriptor{DiffID: "../../etc/passwd"}) != nil {
		t.Errorf("a non-digest diffID was cached")
	}
	// A damaged file is a miss.
	c.Put(&Layer{DiffID: sha([]byte("x")), Source: SourceStream})
	name := c.key(Descriptor{DiffID: sha([]byte("x"))}, SourceStream)
	if err := os.WriteFile(name, []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.Get(Descriptor{DiffID: sha([]byte("x"))}) != nil {
		t.Errorf("a damaged file was served")
	}
	entries, _ := os.ReadDir(filepath.Dir(name))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
