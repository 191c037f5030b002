package imagestatus

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

func TestMarkFailed(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ready, reconciling, stalled := imagesv1alpha1.ReadyCondition, imagesv1alpha1.ReconcilingCondition, imagesv1alpha1.StalledCondition
	notFound := &manifests.Error{Reason: manifests.NotFound, Message: "tag 1.0 not found"}
	tests := []struct {
		name string
		err  error
		want []cond
	}{
		{"a terminal reason stalls", fmt.Errorf("resolve: %w", notFound), []cond{
			{ready, "False", "NotFound", notFound.Error(), 3},
			{stalled, "True", "NotFound", notFound.Error(), 3},
		}},
		{"Unauthorized stalls", &manifests.Error{Reason: manifests.Unauthorized, Message: "401"}, []cond{
			{ready, "False", "Unauthorized", "401", 3},
			{stalled, "True", "Unauthorized", "401", 3},
		}},
		{"Unavailable is retried", &manifests.Error{Reason: manifests.Unavailable, Message: "503"}, []cond{
			{ready, "False", "Unavailable", "503", 3},
			{reconciling, "True", imagesv1alpha1.ProgressingReason, "Retrying: 503", 3},
		}},
		{"RateLimited is retried and says when to expect relief", &manifests.Error{Reason: manifests.RateLimited, Message: "429", RetryAfter: time.Minute}, []cond{
			{ready, "False", "RateLimited", "429; expect relief at 2026-03-01T12:01:00Z", 3},
			{reconciling, "True", imagesv1alpha1.ProgressingReason, "Retrying: 429; expect relief at 2026-03-01T12:01:00Z", 3},
		}},
		{"an error that is not the finders' is retried as Unavailable", errors.New("boom"), []cond{
			{ready, "False", "Unavailable", "boom", 3},
			{reconciling, "True", imagesv1alpha1.ProgressingReason, "Retrying: boom", 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := &imagesv1alpha1.ImageConfig{}
			obj.Generation = 3
			obj.Status.Digest = digestA
			MarkFailed(obj, tt.err, now)
			if diff := cmp.Diff(tt.want, condsOf(obj.Status.Conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if obj.Status.Digest != digestA {
				t.Errorf("digest = %q: a failure blanked the resolved digest", obj.Status.Digest)
			}
			checkKstatusInvariants(t, obj.Status.Conditions)
		})
	}
}

// fill sets every field under v to a value that is not zero, so that a
// conversion that drops a field shows in a comparison.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	}
}

// TestChangeDetails converts a compare.Change with every field set and checks
// that the status holds all of it: the JSON of both sides is the oracle, as
// their field names are the API's.
func TestChangeDetails(t *testing.T) {
	var c compare.Change
	n := 0
	fill(reflect.ValueOf(&c).Elem(), &n)
	if c.Layers == nil || c.BaseImage == nil || c.BaseImage.After == nil || len(c.Env.Changed) != 2 {
		t.Fatalf("fill left fields empty: %+v", c)
	}
	asJSON := func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(asJSON(c), asJSON(ChangeDetails(c))); diff != "" {
		t.Errorf("ChangeDetails lost or changed fields (-finders +status):\n%s", diff)
	}
	if diff := cmp.Diff(&imagesv1alpha1.ImageChangeDetails{}, ChangeDetails(compare.Change{})); diff != "" {
		t.Errorf("ChangeDetails of no change (-want +got):\n%s", diff)
	}
}
