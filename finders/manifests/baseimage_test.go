package manifests_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestBaseImageAndRawBytes resolves images that declare their base in each of the
// three places, and checks that the raw index, manifest and config are the bytes served.
func TestBaseImageAndRawBytes(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	base := func(name, digest string) map[string]string {
		return map[string]string{manifests.BaseNameAnnotation: name, manifests.BaseDigestAnnotation: digest}
	}
	image := func(labels map[string]string) testregistry.ImageSpec {
		cfg := testregistry.RichConfig()
		for k, v := range labels {
			cfg.Labels[k] = v
		}
		return testregistry.ImageSpec{Layers: []string{"base", "app"}, Config: cfg}
	}
	const dm, de, dl = "sha256:" + "1111111111111111111111111111111111111111111111111111111111111111", "sha256:" + "2222222222222222222222222222222222222222222222222222222222222222", "sha256:" + "3333333333333333333333333333333333333333333333333333333333333333"

	tests := []struct {
		name     string
		manifest map[string]string // annotations of the platform manifest
		entry    map[string]string // annotations of the index entry
		labels   map[string]string
		single   bool
		want     *manifests.BaseImage
	}{
		{name: "none declared"},
		{name: "platform manifest first", manifest: base("debian:bookworm", dm), entry: base("alpine", de), labels: base("busybox", dl), want: &manifests.BaseImage{Name: "debian:bookworm", Digest: dm}},
		{name: "index entry next", entry: base("alpine", de), labels: base("busybox", dl), want: &manifests.BaseImage{Name: "alpine", Digest: de}},
		{name: "config labels last", labels: base("busybox", dl), want: &manifests.BaseImage{Name: "busybox", Digest: dl}},
		{name: "name alone is not paired with another source's digest", manifest: map[string]string{manifests.BaseNameAnnotation: "debian"}, entry: base("alpine", de), want: &manifests.BaseImage{Name: "debian"}},
		{name: "single-platform image", single: true, manifest: base("debian:bookworm", dm), want: &manifests.BaseImage{Name: "debian:bookworm", Digest: dm}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := testregistry.Image(t, image(tt.labels))
			if tt.manifest != nil {
				img = mutate.Annotations(img, tt.manifest).(v1.Image)
			}
			repo := fmt.Sprintf("base/case%d", i)
			var wantIndex []byte
			if tt.single {
				reg.PushImage(t, repo, "1", img)
			} else {
				idx := testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: img, Annotations: tt.entry})
				reg.PushIndex(t, repo, "1", idx)
				wantIndex, _ = idx.RawManifest()
			}
			res, err := manifests.Resolve(context.Background(), options(reg, false, repo, "1", platforms.Platform{}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, res.BaseImage); diff != "" {
				t.Errorf("BaseImage (-want +got):\n%s", diff)
			}
			wantManifest, _ := img.RawManifest()
			if !bytes.Equal(res.RawManifest, wantManifest) || !bytes.Equal(res.RawIndex, wantIndex) || !bytes.Equal(res.RawConfig, rawConfig(t, img)) {
				t.Errorf("raw bytes differ from those pushed:\nmanifest %s\nindex %s", res.RawManifest, res.RawIndex)
			}
		})
	}
}
