package compare_test

import (
	"encoding/json"
	"reflect"
	"testing"

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
			t.Fatalf("Compare(a, a) is not empty: %+v", c)
		}
		ab, ba := compare.Compare(&a, &b), compare.Compare(&b, &a)
		if !reflect.DeepEqual(ba, ab.Reverse()) {
			t.Fatalf("Compare(b, a) = %+v\nnot the reverse of Compare(a, b) = %+v", ba, ab)
		}
		_ = compare.Line("tag x", ab)
	})
}
