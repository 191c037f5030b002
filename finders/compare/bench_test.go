package compare_test

import (
	"fmt"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// BenchmarkCompare compares two images at the status' bounds (256 layers, 256 env
// vars, 256 labels) whose top half of layers and every value differ, then bounds
// the change and renders its line: what the controller does for a moved tag.
func BenchmarkCompare(b *testing.B) {
	mk := func(v string) *manifests.Result {
		s := manifests.Summary{Digest: "sha256:" + v, Config: &manifests.BuildConfig{Labels: map[string]string{}}}
		for i := range 256 {
			id := fmt.Sprint(i)
			if i >= 128 {
				id += v
			}
			s.Layers = append(s.Layers, manifests.Layer{DiffID: "sha256:" + id, Size: int64(1000 * i), CreatedBy: "RUN step " + id})
			s.Config.Env = append(s.Config.Env, fmt.Sprintf("VAR%d=%s", i, v))
			s.Config.Labels[fmt.Sprint("label", i)] = v
		}
		return &manifests.Result{Summary: s}
	}
	x, y := mk("a"), mk("b")
	b.ReportAllocs()
	for b.Loop() {
		c := compare.Compare(x, y)
		bounded, _ := c.Bound(32, 256)
		_ = compare.Line("tag 1", c)
		_ = bounded
	}
}
