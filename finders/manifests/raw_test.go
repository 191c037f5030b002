package manifests_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

func TestFetchRaw(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, images := testregistry.MultiArch(t)
	reg.PushIndex(t, "raw/multi", "1", idx)
	reg.PushImage(t, "raw/single", "1", images["linux/amd64"])
	ctx := context.Background()

	for _, repo := range []string{"raw/multi", "raw/single"} {
		t.Run(repo, func(t *testing.T) {
			opts := options(reg, false, repo, "1", platforms.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
			if repo == "raw/single" {
				opts.Platform = platforms.Platform{}
			}
			res, err := manifests.Resolve(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := manifests.RawOf(res)
			// By digest: the tag is not asked for again, even if it moved since.
			reg.PushImage(t, repo, "1", images["linux/s390x"])
			reg.Log().Reset()
			got, err := manifests.FetchRaw(ctx, opts, &res.Summary)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("FetchRaw differs from the resolution's bytes (-want +got):\n%s", diff)
			}
			wantGETs := 1
			if repo == "raw/multi" {
				wantGETs = 2
			}
			wantCounts := testregistry.Counts{ManifestGETs: wantGETs, BlobGETs: 1}
			if diff := cmp.Diff(wantCounts, reg.Log().Counts(), cmpopts.IgnoreFields(testregistry.Counts{}, "Pings", "Tokens")); diff != "" {
				t.Errorf("request counts (-want +got):\n%s\n%s", diff, reg.Log())
			}
		})
	}

	t.Run("content that is gone is NotFound", func(t *testing.T) {
		opts := options(reg, false, "raw/multi", "1", platforms.Platform{})
		s := &manifests.Summary{Digest: "sha256:" + string(bytes.Repeat([]byte("0"), 64)), ManifestDigest: "sha256:" + string(bytes.Repeat([]byte("1"), 64)), ConfigDigest: "sha256:" + string(bytes.Repeat([]byte("2"), 64))}
		if _, err := manifests.FetchRaw(ctx, opts, s); !errors.Is(err, manifests.ErrNotFound) {
			t.Errorf("err = %v, want NotFound", err)
		}
		if _, err := manifests.FetchRaw(ctx, opts, &manifests.Summary{}); !errors.Is(err, manifests.ErrInvalidReference) {
			t.Errorf("empty summary: err = %v, want InvalidReference", err)
		}
	})
}
