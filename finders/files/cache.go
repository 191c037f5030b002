package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// DefaultCacheSize is the default cap of a Cache, in bytes on disk.
const DefaultCacheSize = 512 << 20

// cacheVersion names the format of the cached files; a new format ignores old files.
const cacheVersion = "v1"

var digestRE = regexp.MustCompile(`^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$`)

// Cache keeps layer indexes on disk by diffID, so that a layer shared by many
// images is indexed once, by the CLI and the manager alike. Its files are
// written whole (a temporary file renamed), so processes may share one
// directory. When the directory grows over its cap, the least recently used
// files go. A nil *Cache caches nothing.
//
// An index made by streaming the blob (verified against the diffID) serves
// any layer with that diffID. One listed from an eStargz TOC is trusted only as
// far as its TOC digest: it is keyed by diffID and TOC digest together.
type Cache struct {
	dir      string
	maxBytes int64
	now      func() time.Time

	mu sync.Mutex
}

// OpenCache opens (creating it) a cache directory of at most maxBytes; zero or
// less means DefaultCacheSize.
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("layer index cache: %w", err)
	}
	return &Cache{dir: dir, maxBytes: maxBytes, now: time.Now}, nil
}

// key names the file of d's index from the given source, or "" when d cannot be cached.
func (c *Cache) key(d Descriptor, source string) string {
	if !digestRE.MatchString(d.DiffID) {
		return ""
	}
	k := cacheVersion + "-" + strings.ReplaceAll(d.DiffID, ":", "-")
	if source == SourceEStargz {
		if !digestRE.MatchString(d.TOCDigest) {
			return ""
		}
		k += "-toc-" + strings.ReplaceAll(d.TOCDigest, ":", "-")
	}
	return filepath.Join(c.dir, k+".json.gz")
}

// Get returns the cached index of d's diffID, with d's digest, media type and
// size, or nil.
func (c *Cache) Get(d Descriptor) *Layer {
	if c == nil {
		return nil
	}
	for _, source := range []string{SourceStream, SourceEStargz} {
		if l := c.read(c.key(d, source)); l != nil {
			l.Digest, l.MediaType, l.Size = d.Digest, d.MediaType, d.Size
			l.Cached = true
			return l
		}
	}
	return nil
}

func (c *Cache) read(name string) *Layer {
	var l Layer
	if !c.decode(name, &l) {
		return nil
	}
	return &l
}

// decode reads the gzipped JSON file name into v and renews its use time; a
// missing or damaged file is a miss.
func (c *Cache) decode(name string, v any) bool {
	if name == "" {
		return false
	}
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		return false // a damaged file is a miss; Put replaces it
	}
	now := c.now()
	_ = os.Chtimes(name, now, now) // least recently used goes first
	return true
}

// Put stores l under its diffID and evicts the least recently used files
// over the cap. Failures are not errors: the cache is an optimisation.
func (c *Cache) Put(l *Layer) {
	if c == nil || l == nil {
		return
	}
	_ = c.put(l)
}

func (c *Cache) put(l *Layer) error {
	d := Descriptor{DiffID: l.DiffID}
	if l.Source == SourceEStargz {
		d.TOCDigest = l.TOCDigest
	}
	name := c.key(d, l.Source)
	if name == "" {
		return errors.New("not cacheable")
	}
	stored := *l
	stored.Cached = false
	return c.write(name, &stored)
}

// write stores v as gzipped JSON in name (a temporary file renamed), then
// evicts the least recently used files over the cap.
func (c *Cache) write(name string, v any) error {
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		tmp.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	return c.evict()
}

// evict removes the least recently used files until the directory is under its cap.
func (c *Cache) evict() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	type file struct {
		name string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	err := filepath.WalkDir(c.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".json.gz") {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil
		}
		files = append(files, file{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= c.maxBytes {
			break
		}
		if err := os.Remove(f.name); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
	return nil
}

// Size returns the bytes the cache's files take.
func (c *Cache) Size() int64 {
	var total int64
	_ = filepath.WalkDir(c.dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".json.gz") {
			if fi, err := de.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// imageKey names the file of the layer descriptors of the image whose platform
// manifest is digest, or "" when digest is not a digest.
func (c *Cache) imageKey(digest string) string {
	if !digestRE.MatchString(digest) {
		return ""
	}
	return filepath.Join(c.dir, cacheVersion+"-image-"+strings.ReplaceAll(digest, ":", "-")+".json.gz")
}

// PutImage records the layer descriptors of the image whose platform manifest
// is digest, so that its index can be merged again from the cached layers
// (Shared.Cached) without the registry. Like Put, failures are not errors.
func (c *Cache) PutImage(digest string, ds []Descriptor) {
	if c == nil {
		return
	}
	name := c.imageKey(digest)
	if name == "" {
		return
	}
	_ = c.write(name, ds)
}

// GetImage returns the layer descriptors PutImage recorded for digest, or nil.
func (c *Cache) GetImage(digest string) []Descriptor {
	if c == nil {
		return nil
	}
	var ds []Descriptor
	if !c.decode(c.imageKey(digest), &ds) {
		return nil
	}
	return ds
}
