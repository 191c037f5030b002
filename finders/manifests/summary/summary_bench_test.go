package summary

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BenchmarkSummarize parses a large config (127 layers, the overlay limit, with
// 300 history lines and 200 env entries) and joins it to its manifest: the CPU and
// memory one resolution spends on its own work, outside the network.
func BenchmarkSummarize(b *testing.B) {
	const layers = 127
	m := &v1.Manifest{SchemaVersion: 2}
	cfg := map[string]any{"architecture": "amd64", "os": "linux"}
	var diffIDs []string
	var history []map[string]any
	env := make([]string, 200)
	for i := range env {
		env[i] = fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("x", 40))
	}
	for i := range layers {
		h := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i+1)}
		m.Layers = append(m.Layers, v1.Descriptor{Digest: h, Size: int64(1000 * i), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"})
		diffIDs = append(diffIDs, h.String())
		history = append(history,
			map[string]any{"created": "2026-01-01T00:00:00Z", "created_by": "RUN step " + strings.Repeat("y", 200)},
			map[string]any{"created": "2026-01-01T00:00:00Z", "created_by": "ENV A=1", "empty_layer": true})
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	cfg["history"] = history
	cfg["config"] = map[string]any{"Env": env, "Cmd": []string{"run"}, "Labels": map[string]string{"a": "b"}}
	raw, _ := json.Marshal(cfg)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := ParseConfig(raw)
		if err != nil {
			b.Fatal(err)
		}
		var s Summary
		Fill(&s, m, c)
		if s.LayerCount != layers || s.LayerHistoryNote != "" {
			b.Fatalf("%d layers, note %q", s.LayerCount, s.LayerHistoryNote)
		}
	}
}
