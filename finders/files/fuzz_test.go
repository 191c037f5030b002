package files

import (
	"bytes"
	"context"
	"path"
	"strings"
	"testing"
)

// FuzzReadLayer feeds arbitrary blobs (tar, gzip or zstd, told apart by their
// first bytes) to the tar and whiteout reader and the merge: no panic, and
// every entry is either an absolute clean path or flagged as escaping.
// Seeds are in testdata/fuzz/FuzzReadLayer.
func FuzzReadLayer(f *testing.F) {
	f.Fuzz(func(t *testing.T, blob []byte) {
		l, err := ReadLayer(context.Background(), bytes.NewReader(blob), Descriptor{}, Limits{MaxEntries: 1000, MaxUncompressedSize: 1 << 22})
		if err != nil {
			return
		}
		for _, e := range l.Entries {
			if e.Escapes {
				if !strings.HasPrefix(e.Path, "..") && !strings.HasPrefix(e.LinkTarget, "..") {
					t.Errorf("escaping entry %q -> %q: neither starts with ..", e.Path, e.LinkTarget)
				}
				continue
			}
			if !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path {
				t.Errorf("entry path %q is not absolute and clean", e.Path)
			}
		}
		for _, p := range append(l.Whiteouts, l.OpaqueDirs...) {
			if !path.IsAbs(p) || path.Clean(p) != p {
				t.Errorf("whiteout %q is not absolute and clean", p)
			}
		}
		v := Merge([]*Layer{l, l})
		for _, fl := range v.Files {
			if fl.Layer != 1 && fl.Layer != 0 {
				t.Errorf("file %q from layer %d", fl.Path, fl.Layer)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpus when run with -update-seeds; the
// seeds are checked in.
func TestFuzzSeedsPresent(t *testing.T) {
	seeds := fuzzSeeds(t)
	for name, blob := range seeds {
		if *updateSeeds {
			writeSeed(t, name, blob)
		}
	}
	checkSeeds(t, seeds)
}
