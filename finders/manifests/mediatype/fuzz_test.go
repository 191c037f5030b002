package mediatype

import (
	"errors"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// The seed corpus lives in testdata/fuzz/FuzzClassify/.

// FuzzClassify: Classify never panics, fails only with an *Error that has a
// message, and on success returns exactly one of an index (whose entries can be
// listed and selected from) and an image manifest with a config digest.
func FuzzClassify(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":2},"layers":[]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got, err := Classify(body, contentType)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Message == "" {
				t.Fatalf("empty message: %#v", e)
			}
			return
		}
		if got == nil || (got.Index == nil) == (got.Manifest == nil) {
			t.Fatalf("want exactly one of index and manifest, got %+v", got)
		}
		if got.Index != nil {
			if !got.MediaType.IsIndex() {
				t.Fatalf("index with media type %q", got.MediaType)
			}
			entries, selectable := summary.IndexEntries(got.Index)
			if len(entries) != len(got.Index.Manifests) || len(selectable) != len(entries) {
				t.Fatalf("IndexEntries lost entries: %d, %d of %d", len(entries), len(selectable), len(got.Index.Manifests))
			}
			if i, err := platforms.Select(platforms.Platform{OS: "linux", Architecture: "amd64"}, selectable); err == nil && (i < 0 || i >= len(entries)) {
				t.Fatalf("Select returned %d of %d entries", i, len(entries))
			}
			return
		}
		if !got.MediaType.IsImage() {
			t.Fatalf("manifest with media type %q", got.MediaType)
		}
		if got.Manifest.Config.Digest.Hex == "" {
			t.Fatalf("manifest without a config digest accepted")
		}
	})
}
