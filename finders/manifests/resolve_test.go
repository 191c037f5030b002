package manifests_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// fastRetry keeps go-containerregistry's in-attempt retries in tests short.
var fastRetry = &transport.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}

// options returns Options for repo:tag on reg, with reg's transport.
func options(reg *testregistry.Registry, tls bool, repo, tag string, p platforms.Platform) manifests.Options {
	return manifests.Options{
		Registry:   reg.Host(),
		Repository: repo,
		Tag:        tag,
		Platform:   p,
		Network: manifests.Network{
			Insecure:     !tls,
			Transport:    reg.Transport(),
			Timeout:      10 * time.Second,
			RetryBackoff: fastRetry,
		},
	}
}

func rawConfig(t *testing.T, img v1.Image) []byte {
	t.Helper()
	b, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestRequestEconomy asserts the exact requests of a first resolution, an
// unchanged re-check and a re-check after the tag moved.
func TestRequestEconomy(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "plain HTTP", true: "TLS"}[tls]
		t.Run(name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true, TLS: tls})
			idx, images := testregistry.MultiArch(t)
			indexDigest := reg.PushIndex(t, "some/repo", "1.0", idx)
			want := platforms.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
			ctx := context.Background()

			// First resolution: handshake, then index, manifest and config.
			res, err := manifests.Resolve(ctx, options(reg, tls, "some/repo", "1.0", want))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			log := reg.Log()
			if got := []int{log.Pings(), log.Tokens(), log.ManifestGETs(), log.BlobGETs(), log.ManifestHEADs()}; !slices.Equal(got, []int{1, 1, 2, 1, 0}) {
				t.Fatalf("first resolution: [pings tokens manifestGETs blobGETs HEADs] = %v, want [1 1 2 1 0]\n%s", got, log)
			}
			if res.Digest != indexDigest.String() {
				t.Errorf("Digest = %s, want the index %s", res.Digest, indexDigest)
			}
			if res.MediaType != string(types.OCIImageIndex) {
				t.Errorf("MediaType = %s", res.MediaType)
			}
			if res.ManifestDigest != mustDigest(t, images["linux/arm/v7"]) {
				t.Errorf("ManifestDigest = %s, want linux/arm/v7's", res.ManifestDigest)
			}
			if !bytes.Equal(res.RawConfig, rawConfig(t, images["linux/arm/v7"])) {
				t.Errorf("RawConfig is not linux/arm/v7's config")
			}
			if res.Platform != "linux/arm/v7" || res.Unchanged {
				t.Errorf("Platform = %q, Unchanged = %v", res.Platform, res.Unchanged)
			}
			if len(res.Platforms) != 8 {
				t.Errorf("Platforms has %d entries, want all 8 (attestations included)", len(res.Platforms))
			}
			wantRef := reg.Host() + "/some/repo:1.0"
			if res.ImageRef != wantRef {
				t.Errorf("ImageRef = %q, want %q", res.ImageRef, wantRef)
			}

			// Unchanged re-check: one HEAD, no GET.
			log.Reset()
			opts := options(reg, tls, "some/repo", "1.0", want)
			opts.Previous = res
			again, err := manifests.Resolve(ctx, opts)
			if err != nil {
				t.Fatalf("re-check: %v", err)
			}
			if got := []int{log.ManifestHEADs(), log.ManifestGETs(), log.BlobGETs()}; !slices.Equal(got, []int{1, 0, 0}) {
				t.Fatalf("re-check: [HEADs manifestGETs blobGETs] = %v, want [1 0 0]\n%s", got, log)
			}
			if !again.Unchanged || again.Digest != res.Digest || again.ConfigDigest != res.ConfigDigest {
				t.Errorf("re-check result: Unchanged=%v Digest=%s ConfigDigest=%s", again.Unchanged, again.Digest, again.ConfigDigest)
			}

			// The tag moves to a single-arch image: HEAD, then GET manifest and config.
			moved := testregistry.Image(t, testregistry.ImageSpec{OS: "linux", Architecture: "arm", Variant: "v7", Layers: []string{"moved"}})
			movedDigest := reg.PushImage(t, "some/repo", "1.0", moved)
			log.Reset()
			after, err := manifests.Resolve(ctx, opts)
			if err != nil {
				t.Fatalf("re-check after move: %v", err)
			}
			if got := []int{log.ManifestHEADs(), log.ManifestGETs(), log.BlobGETs()}; !slices.Equal(got, []int{1, 1, 1}) {
				t.Fatalf("moved: [HEADs manifestGETs blobGETs] = %v, want [1 1 1]\n%s", got, log)
			}
			if after.Unchanged || after.Digest != movedDigest.String() || after.ManifestDigest != movedDigest.String() {
				t.Errorf("moved result: Unchanged=%v Digest=%s, want %s", after.Unchanged, after.Digest, movedDigest)
			}
			if len(after.Platforms) != 0 {
				t.Errorf("single-arch image lists %d platforms", len(after.Platforms))
			}
		})
	}
}

// TestHeadFallback: registries that refuse HEAD, or answer without a digest, get a GET.
func TestHeadFallback(t *testing.T) {
	tests := []struct {
		name  string
		fault testregistry.Fault
	}{
		{"405", testregistry.FailRequests(http.MethodHead, "/v2/*/*/manifests/*", http.StatusMethodNotAllowed, 0, nil)},
		{"no Docker-Content-Digest", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodHead || r.URL.Path == "/v2/" {
				return false
			}
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			w.WriteHeader(http.StatusOK)
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			idx, _ := testregistry.MultiArch(t)
			reg.PushIndex(t, "some/repo", "1.0", idx)
			opts := options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "amd64"})
			first, err := manifests.Resolve(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			reg.SetFault(tt.fault)
			reg.Log().Reset()
			opts.Previous = first
			res, err := manifests.Resolve(context.Background(), opts)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got := reg.Log().ManifestGETs(); got != 2 {
				t.Errorf("manifest GETs after fallback = %d, want 2\n%s", got, reg.Log())
			}
			if res.Digest != first.Digest || res.Unchanged {
				t.Errorf("Digest = %s (want %s), Unchanged = %v", res.Digest, first.Digest, res.Unchanged)
			}
		})
	}
}

// TestMediaTypes resolves each supported manifest shape.
func TestMediaTypes(t *testing.T) {
	amd64 := platforms.Platform{OS: "linux", Architecture: "amd64"}
	docker := func(arch, variant string) v1.Image {
		return testregistry.Image(t, testregistry.ImageSpec{
			Architecture: arch, Variant: variant, MediaType: types.DockerManifestSchema2,
			Layers: []string{"a " + arch, "b " + arch}, Config: testregistry.RichConfig(),
		})
	}
	list := testregistry.Index(t, types.DockerManifestList,
		testregistry.IndexEntry{Image: docker("amd64", "")},
		testregistry.IndexEntry{Image: docker("arm64", "v8")})
	ociSingle := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"x"}, Config: testregistry.RichConfig()})
	dockerSingle := docker("amd64", "")
	noPlatform := testregistry.Index(t, types.OCIImageIndex, testregistry.IndexEntry{Image: ociSingle, NoPlatform: true})

	tests := []struct {
		name          string
		push          func(reg *testregistry.Registry)
		want          platforms.Platform
		wantMediaType types.MediaType
		wantConfig    v1.Image
	}{
		{"docker manifest list", func(r *testregistry.Registry) { r.PushIndex(t, "r", "t", list) }, platforms.Platform{OS: "linux", Architecture: "arm64"}, types.DockerManifestList, nil},
		{"docker v2 single-arch", func(r *testregistry.Registry) { r.PushImage(t, "r", "t", dockerSingle) }, amd64, types.DockerManifestSchema2, dockerSingle},
		{"OCI single-arch", func(r *testregistry.Registry) { r.PushImage(t, "r", "t", ociSingle) }, amd64, types.OCIManifestSchema1, ociSingle},
		{"index entry without platform is linux/amd64", func(r *testregistry.Registry) { r.PushIndex(t, "r", "t", noPlatform) }, amd64, types.OCIImageIndex, ociSingle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			tt.push(reg)
			res, err := manifests.Resolve(context.Background(), options(reg, false, "r", "t", tt.want))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.MediaType != string(tt.wantMediaType) {
				t.Errorf("MediaType = %s, want %s", res.MediaType, tt.wantMediaType)
			}
			if tt.wantConfig != nil && !bytes.Equal(res.RawConfig, rawConfig(t, tt.wantConfig)) {
				t.Errorf("RawConfig differs from the pushed image's")
			}
			if res.Config == nil || res.Config.Architecture != platforms.Normalize(tt.want).Architecture {
				t.Errorf("Config = %+v, want architecture %s", res.Config, tt.want.Architecture)
			}
			if res.LayerCount == 0 || int(res.LayerCount) != len(res.Layers) || res.TotalSize == 0 {
				t.Errorf("LayerCount = %d, len(Layers) = %d, TotalSize = %d", res.LayerCount, len(res.Layers), res.TotalSize)
			}
		})
	}
}

// TestSummaryJoinsHistory checks the researcher's view: real layers paired with the
// history lines that created them, with empty-layer lines in between skipped.
func TestSummaryJoinsHistory(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	img := testregistry.Image(t, testregistry.ImageSpec{
		Layers: []string{"apt-get install curl", "COPY app /app", "chmod +x /app"}, EmptyLayersBetween: true,
		Config: testregistry.RichConfig(), Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Author: "me",
	})
	reg.PushImage(t, "r", "t", img)
	res, err := manifests.Resolve(context.Background(), options(reg, false, "r", "t", platforms.Platform{}))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	cf, _ := img.ConfigFile()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []manifests.Layer
	var total int64
	for i, step := range []string{"apt-get install curl", "COPY app /app", "chmod +x /app"} {
		l := m.Layers[i]
		want = append(want, manifests.Layer{
			Digest: l.Digest.String(), DiffID: cf.RootFS.DiffIDs[i].String(), MediaType: string(l.MediaType),
			Size: l.Size, Created: &created, CreatedBy: "RUN " + step,
		})
		total += l.Size
	}
	if diff := cmp.Diff(want, res.Layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	if res.TotalSize != total || res.LayerHistoryNote != "" {
		t.Errorf("TotalSize = %d (want %d), LayerHistoryNote = %q", res.TotalSize, total, res.LayerHistoryNote)
	}
	rc := testregistry.RichConfig()
	wantConfig := &manifests.BuildConfig{
		Created: &created, Author: "me", OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion,
		User: rc.User, Env: rc.Env, Entrypoint: rc.Entrypoint, Cmd: rc.Cmd, WorkingDir: rc.WorkingDir,
		ExposedPorts: []string{"443/tcp", "80/tcp"}, Volumes: []string{"/data"}, Labels: rc.Labels, StopSignal: rc.StopSignal,
	}
	if diff := cmp.Diff(wantConfig, res.Config); diff != "" {
		t.Errorf("config summary (-the image's config +got):\n%s", diff)
	}
}
