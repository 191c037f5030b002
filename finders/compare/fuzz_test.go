package compare_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// FuzzCompare checks, for any two summaries, that comparing one with itself is
// empty, and that comparing B with A mirrors comparing A with B.
func FuzzCompare(f *testing.F) {
	seed := func(edit func(s *manifests.Summary)) []byte {
		b, err := json.Marshal(image(edit).Summary)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(seed(nil), seed(func(s *manifests.Summary) { s.Config.Env = append(s.Config.Env, "A=1") }))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		var a, b manifests.Result
		if json.Unmarshal(x, &a.Summary) != nil || json.Unmarshal(y, &b.Summary) != nil {
			t.Skip()
		}
		if c := compare.Compare(&a, &a); !c.Empty() {
			t.Fatalf("Compare(a, a) is not empty (-empty +got):\n%s", cmp.Diff(compare.Change{}, c))
		}
		ab, ba := compare.Compare(&a, &b), compare.Compare(&b, &a)
		if diff := cmp.Diff(ab.Reverse(), ba); diff != "" {
			t.Fatalf("Compare(b, a) is not the reverse of Compare(a, b) (-reverse +Compare(b, a)):\n%s", diff)
		}
		_ = compare.Line("tag x", ab)
	})
}
