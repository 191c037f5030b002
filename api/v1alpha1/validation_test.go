package v1alpha1_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

// TestAPIValidation proves, against a real API server with the generated CRD,
// that defaults are applied and that bad input is refused with a message naming the field.
func TestAPIValidation(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	digest := "sha256:" + strings.Repeat("a", 64)

	t.Run("defaults", func(t *testing.T) {
		obj := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: "default"},
			Spec:       imagesv1alpha1.ImageConfigSpec{Repository: "nginx"},
		}
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &imagesv1alpha1.ImageConfig{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
			t.Fatalf("get: %v", err)
		}
		s := got.Spec
		checks := []struct {
			field     string
			got, want any
		}{
			{"registry", s.Registry, "registry-1.docker.io"},
			{"repository", s.Repository, "nginx"},
			{"tag", s.Tag, ""},
			{"platform.os", s.Platform.OS, "linux"},
			{"platform.architecture", s.Platform.Architecture, "amd64"},
			{"interval", s.Interval, &metav1.Duration{Duration: time.Hour}},
			{"timeout", s.Timeout, &metav1.Duration{Duration: 60 * time.Second}},
			{"insecure", s.Insecure, false},
			{"suspend", s.Suspend, false},
		}
		for _, c := range checks {
			if !equality.Semantic.DeepEqual(c.got, c.want) {
				t.Errorf("spec.%s = %v, want %v", c.field, c.got, c.want)
			}
		}
	})

	t.Run("partial platform keeps its defaults", func(t *testing.T) {
		obj := &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "arm", Namespace: "default"},
			Spec: imagesv1alpha1.ImageConfigSpec{
				Repository: "library/nginx", Digest: digest,
				Platform: imagesv1alpha1.PlatformSpec{Architecture: "arm", Variant: "v7"},
			},
		}
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create: %v", err)
		}
		if obj.Spec.Platform.OS != "linux" || obj.Spec.Platform.Architecture != "arm" || obj.Spec.Platform.Variant != "v7" {
			t.Errorf("platform = %+v, want linux/arm/v7", obj.Spec.Platform)
		}
	})

	valid := func() imagesv1alpha1.ImageConfigSpec {
		return imagesv1alpha1.ImageConfigSpec{Repository: "library/nginx", Tag: "1.27"}
	}
	tests := []struct {
		name   string
		mutate func(*imagesv1alpha1.ImageConfigSpec)
		// wantField must appear in the API server's message; wantText too, when set.
		wantField, wantText string
	}{
		{"repository with upper case", func(s *imagesv1alpha1.ImageConfigSpec) { s.Repository = "Library/nginx" }, "spec.repository", ""},
		{"repository with ..", func(s *imagesv1alpha1.ImageConfigSpec) { s.Repository = "library/ng..inx" }, "spec.repository", ""},
		{"repository too long", func(s *imagesv1alpha1.ImageConfigSpec) { s.Repository = strings.Repeat("a", 256) }, "spec.repository", ""},
		{"empty repository", func(s *imagesv1alpha1.ImageConfigSpec) { s.Repository = "" }, "spec.repository", ""},
		{"tag with /", func(s *imagesv1alpha1.ImageConfigSpec) { s.Tag = "1.27/alpine" }, "spec.tag", ""},
		{"malformed digest", func(s *imagesv1alpha1.ImageConfigSpec) { s.Tag = ""; s.Digest = "sha256:abc" }, "spec.digest", ""},
		{"both tag and digest", func(s *imagesv1alpha1.ImageConfigSpec) { s.Digest = digest }, "spec", "spec.tag and spec.digest are mutually exclusive"},
		{"interval 1s", func(s *imagesv1alpha1.ImageConfigSpec) { s.Interval = &metav1.Duration{Duration: time.Second} }, "spec.interval", "spec.interval must be at least 10s"},
		{"registry with a scheme", func(s *imagesv1alpha1.ImageConfigSpec) { s.Registry = "http://example.com" }, "spec.registry", "without a scheme"},
		{"registry with a path", func(s *imagesv1alpha1.ImageConfigSpec) { s.Registry = "example.com/v2" }, "spec.registry", ""},
		{"timeout 0s", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.Timeout = &metav1.Duration{Duration: 500 * time.Millisecond}
		}, "spec.timeout", "spec.timeout must be between 1s and 10m"},
		{"platform with upper case", func(s *imagesv1alpha1.ImageConfigSpec) { s.Platform.Architecture = "ARM64" }, "spec.platform.architecture", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := valid()
			tt.mutate(&spec)
			obj := &imagesv1alpha1.ImageConfig{
				ObjectMeta: metav1.ObjectMeta{Name: "invalid-" + string(rune('a'+i)), Namespace: "default"},
				Spec:       spec,
			}
			err := env.Client.Create(ctx, obj)
			if err == nil {
				t.Fatalf("create succeeded; want it refused")
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("error is not Invalid: %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("message does not name %s: %v", tt.wantField, err)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("message lacks %q: %v", tt.wantText, err)
			}
		})
	}

	t.Run("valid registries are accepted", func(t *testing.T) {
		for i, reg := range []string{"docker.io", "index.docker.io", "ghcr.io", "127.0.0.1:5001", "localhost:5000", "my-registry.example.com:443"} {
			obj := &imagesv1alpha1.ImageConfig{
				ObjectMeta: metav1.ObjectMeta{Name: "registry-" + string(rune('a'+i)), Namespace: "default"},
				Spec:       imagesv1alpha1.ImageConfigSpec{Registry: reg, Repository: "org/app__x.y-z", Tag: "v1.0_rc-1"},
			}
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Errorf("registry %q refused: %v", reg, err)
			}
		}
	})
}
