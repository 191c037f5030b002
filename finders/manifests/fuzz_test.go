package manifests

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

// FuzzParseManifest: parseManifest never panics, fails only with *Error of
// reason InvalidManifest or Unsupported on one line, and on success returns
// exactly one of an index (whose entries can be listed and selected from) and
// a manifest with a config digest.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":2},"layers":[]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got, err := parseManifest(body, contentType)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Reason != InvalidManifest && e.Reason != Unsupported {
				t.Fatalf("Reason = %s, want InvalidManifest or Unsupported: %v", e.Reason, err)
			}
			if strings.ContainsAny(e.Message, "\n\r") || e.Message == "" {
				t.Fatalf("message is empty or not one line: %q", e.Message)
			}
			return
		}
		if got == nil || (got.index == nil) == (got.manifest == nil) {
			t.Fatalf("want exactly one of index and manifest, got %+v", got)
		}
		if got.index != nil {
			if !got.mediaType.IsIndex() {
				t.Fatalf("index with media type %q", got.mediaType)
			}
			entries, selectable := summary.IndexEntries(got.index)
			if len(entries) != len(got.index.Manifests) || len(selectable) != len(entries) {
				t.Fatalf("indexEntries lost entries: %d, %d of %d", len(entries), len(selectable), len(got.index.Manifests))
			}
			if i, err := platforms.Select(platforms.Platform{OS: "linux", Architecture: "amd64"}, selectable); err == nil && (i < 0 || i >= len(entries)) {
				t.Fatalf("Select returned %d of %d entries", i, len(entries))
			}
			return
		}
		if !got.mediaType.IsImage() {
			t.Fatalf("manifest with media type %q", got.mediaType)
		}
		if got.manifest.Config.Digest.Hex == "" {
			t.Fatalf("manifest without a config digest accepted")
		}
	})
}

// fuzzManifest is the fixed manifest FuzzParseConfig summarises against.
var fuzzManifest = &v1.Manifest{
	SchemaVersion: 2,
	MediaType:     types.OCIManifestSchema1,
	Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 100, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}},
	Layers: []v1.Descriptor{
		{MediaType: types.OCILayer, Size: 1000, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}},
		{MediaType: types.OCILayer, Size: 2000, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}},
	},
}

// FuzzParseConfig: parseConfig and summarize never panic, and the summary keeps
// every layer of the manifest whatever the config's history says.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := summary.ParseConfig(raw)
		if err != nil {
			return
		}
		var s Summary
		summary.Fill(&s, fuzzManifest, cfg)
		checkSummary(t, &s, fuzzManifest)
		_ = summary.DescribePlatform(summary.ConfigPlatform(cfg))
	})
}

// FuzzSummarize: for any manifest and config that both parse, summarize never
// panics, keeps every layer and totals their sizes.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":2},"layers":[{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":3}]}`),
		[]byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]},"history":[{"created_by":"RUN x"}]}`))
	f.Fuzz(func(t *testing.T, manifestJSON, configJSON []byte) {
		m, err := parseManifest(manifestJSON, "")
		if err != nil || m.manifest == nil {
			return
		}
		cfg, err := summary.ParseConfig(configJSON)
		if err != nil {
			return
		}
		var s Summary
		summary.Fill(&s, m.manifest, cfg)
		checkSummary(t, &s, m.manifest)
	})
}

func checkSummary(t *testing.T, s *Summary, m *v1.Manifest) {
	t.Helper()
	if s.Config == nil {
		t.Fatal("Config is nil")
	}
	if int(s.LayerCount) != len(s.Layers) || len(s.Layers) != len(m.Layers) {
		t.Fatalf("LayerCount = %d, len(Layers) = %d, manifest layers = %d", s.LayerCount, len(s.Layers), len(m.Layers))
	}
	var total int64
	for i, l := range s.Layers {
		if l.Digest != m.Layers[i].Digest.String() || l.Size != m.Layers[i].Size {
			t.Fatalf("layer %d = %+v, want the manifest's %+v", i, l, m.Layers[i])
		}
		total += l.Size
	}
	if s.TotalSize != total {
		t.Fatalf("TotalSize = %d, want %d", s.TotalSize, total)
	}
	if s.LayerHistoryNote == "" {
		for i, l := range s.Layers {
			if l.DiffID == "" && len(m.Layers) > 0 {
				t.Fatalf("layer %d has no diffID but there is no note", i)
			}
		}
	}
}
