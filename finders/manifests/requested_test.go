package manifests_test

import (
	"errors"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

func TestRequested(t *testing.T) {
	const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name               string
		opts               manifests.Options
		imageRef, platform string
	}{
		{"docker hub short name", manifests.Options{Repository: "nginx", Tag: "1.27"}, "index.docker.io/library/nginx:1.27", "linux/amd64"},
		{"docker.io alias", manifests.Options{Registry: "docker.io", Repository: "org/app"}, "index.docker.io/org/app:latest", "linux/amd64"},
		{"digest", manifests.Options{Registry: "127.0.0.1:5001", Repository: "demo/hello", Digest: "sha256:" + hex64}, "127.0.0.1:5001/demo/hello@sha256:" + hex64, "linux/amd64"},
		{"arm64 gets its default variant", manifests.Options{Registry: "ghcr.io", Repository: "x", Tag: "v1", Platform: platforms.Platform{OS: "linux", Architecture: "aarch64"}}, "ghcr.io/x:v1", "linux/arm64/v8"},
		{"armhf alias", manifests.Options{Registry: "ghcr.io", Repository: "x", Platform: platforms.Platform{OS: "Linux", Architecture: "armhf"}}, "ghcr.io/x:latest", "linux/arm/v7"},
		{"os version is not part of the string", manifests.Options{Registry: "mcr.microsoft.com", Repository: "windows/nanoserver", Tag: "ltsc2022", Platform: platforms.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348"}}, "mcr.microsoft.com/windows/nanoserver:ltsc2022", "windows/amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, p, err := manifests.Requested(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ref != tt.imageRef || p != tt.platform {
				t.Errorf("Requested = %q, %q; want %q, %q", ref, p, tt.imageRef, tt.platform)
			}
		})
	}
}

func TestRequestedInvalid(t *testing.T) {
	_, _, err := manifests.Requested(manifests.Options{Repository: "UPPER"})
	if !errors.Is(err, manifests.ErrInvalidReference) {
		t.Fatalf("err = %v, want InvalidReference", err)
	}
}
