package manifests_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestLookupEconomy: the CLI's digest and platforms commands read no more than
// they print.
func TestLookupEconomy(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, images := testregistry.MultiArch(t)
	indexDigest := reg.PushIndex(t, "some/repo", "1.0", idx)
	single := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm64", Variant: "v8", Layers: []string{"x"}})
	singleDigest := reg.PushImage(t, "some/single", "1.0", single)
	ctx := context.Background()
	arm64 := platforms.Platform{OS: "linux", Architecture: "arm64"}
	log := reg.Log()

	tests := []struct {
		name                    string
		run                     func() (string, error)
		want                    string
		heads, manifests, blobs int
	}{
		{"Digest", func() (string, error) {
			d, _, err := manifests.Digest(ctx, options(reg, false, "some/repo", "1.0", arm64))
			return d, err
		}, indexDigest.String(), 1, 0, 0},
		{"PlatformDigest of an index", func() (string, error) {
			return manifests.PlatformDigest(ctx, options(reg, false, "some/repo", "1.0", arm64))
		}, mustDigest(t, images["linux/arm64/v8"]), 0, 1, 0},
		{"PlatformDigest of a single-platform image", func() (string, error) {
			return manifests.PlatformDigest(ctx, options(reg, false, "some/single", "1.0", arm64))
		}, singleDigest.String(), 0, 1, 1},
		{"Platforms", func() (string, error) {
			entries, err := manifests.Platforms(ctx, options(reg, false, "some/repo", "1.0", platforms.Platform{}))
			if err != nil || len(entries) != 8 {
				return "", err
			}
			return entries[2].String(), nil
		}, "linux/arm/v7 " + mustDigest(t, images["linux/arm/v7"]), 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log.Reset()
			got, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			want := testregistry.Counts{ManifestHEADs: tt.heads, ManifestGETs: tt.manifests, BlobGETs: tt.blobs}
			if diff := cmp.Diff(want, log.Counts(), cmpopts.IgnoreFields(testregistry.Counts{}, "Pings", "Tokens")); diff != "" {
				t.Errorf("request counts (-want +got):\n%s\n%s", diff, log)
			}
		})
	}

	// A single-platform image for another platform is refused, as Resolve refuses it.
	_, err := manifests.PlatformDigest(ctx, options(reg, false, "some/single", "1.0", platforms.Platform{OS: "linux", Architecture: "amd64"}))
	if !errors.Is(err, manifests.ErrPlatformMismatch) {
		t.Errorf("err = %v, want PlatformMismatch", err)
	}
}
