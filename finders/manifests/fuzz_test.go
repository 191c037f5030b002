package manifests

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; FuzzClassify is in
// package mediatype.

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
		if err != nil || m.Manifest == nil {
			return
		}
		cfg, err := summary.ParseConfig(configJSON)
		if err != nil {
			return
		}
		var s Summary
		summary.Fill(&s, m.Manifest, cfg)
		checkSummary(t, &s, m.Manifest)
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
