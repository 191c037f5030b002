package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// TestResolveSourceMapping checks that `imageconfig serve` fills its items
// through the controller's mapping (internal/imagestatus): the same conditions
// and reasons for a failure, and a result cut to the status limits.
func TestResolveSourceMapping(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env := make([]string, imagesv1alpha1.MaxEnv+10)
	for i := range env {
		env[i] = fmt.Sprintf("V%d=x", i)
	}
	big := &manifests.Result{Summary: manifests.Summary{
		ImageRef: "registry.example/app:1", Digest: "sha256:" + strings.Repeat("a", 64), Platform: "linux/arm64",
		Config: &manifests.BuildConfig{OS: "linux", Architecture: "arm64", Env: env},
	}}
	type cond struct{ Type, Status, Reason, Message string }
	tests := []struct {
		name         string
		res          *manifests.Result
		err          error
		want         []cond
		wantEnv      int
		wantTruncate string
	}{
		{
			name: "a rate limit is retried and says when to expect relief",
			err:  &manifests.Error{Reason: manifests.RateLimited, Message: "429", RetryAfter: time.Minute},
			want: []cond{
				{"Ready", "False", "RateLimited", "429; expect relief at 2026-03-01T12:01:00Z"},
				{"Reconciling", "True", "Progressing", "Retrying: 429; expect relief at 2026-03-01T12:01:00Z"},
			},
		},
		{
			name: "a missing tag stalls",
			err:  &manifests.Error{Reason: manifests.NotFound, Message: "no tag 1"},
			want: []cond{
				{"Ready", "False", "NotFound", "no tag 1"},
				{"Stalled", "True", "NotFound", "no tag 1"},
			},
		},
		{
			name:    "a result is cut to the status limits",
			res:     big,
			want:    []cond{{"Ready", "True", "Resolved", "Resolved registry.example/app:1 to sha256:" + strings.Repeat("a", 64) + " for linux/arm64"}},
			wantEnv: imagesv1alpha1.MaxEnv, wantTruncate: "config.env: kept the first 256 of 266",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &resolveSource{
				a:   &app{dockerConfig: t.TempDir(), timeout: time.Minute, platform: "linux/arm64"},
				ttl: time.Minute, max: 4, now: func() time.Time { return now },
				resolve: func(context.Context, manifests.Options) (*manifests.Result, error) { return tt.res, tt.err },
			}
			it, err := s.Resolve(context.Background(), "registry.example/app:1", "")
			if err != nil {
				t.Fatal(err)
			}
			st := it.Object.Status
			var got []cond
			for _, typ := range []string{"Ready", "Reconciling", "Stalled"} {
				if c := apimeta.FindStatusCondition(st.Conditions, typ); c != nil {
					got = append(got, cond{c.Type, string(c.Status), c.Reason, c.Message})
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			type requested struct {
				Ref, Platform string
				Spec          imagesv1alpha1.PlatformSpec
			}
			want := requested{"registry.example/app:1", "linux/arm64/v8", imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm64"}}
			if diff := cmp.Diff(want, requested{st.RequestedImageRef, st.RequestedPlatform, it.Object.Spec.Platform}); diff != "" {
				t.Errorf("requested (-want +got):\n%s", diff)
			}
			if tt.res == nil {
				return
			}
			if n := len(st.Config.Env); n != tt.wantEnv || st.Truncated != tt.wantTruncate {
				t.Errorf("%d env entries, truncated %q; want %d and %q", n, st.Truncated, tt.wantEnv, tt.wantTruncate)
			}
			if len(tt.res.Config.Env) != imagesv1alpha1.MaxEnv+10 {
				t.Error("cutting the status cut the finder's result")
			}
			if want := (&metav1.Time{Time: now}); !st.LastCheckedTime.Equal(want) {
				t.Errorf("lastCheckedTime = %v, want %v", st.LastCheckedTime, want)
			}
		})
	}
}
