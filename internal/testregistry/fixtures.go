package testregistry

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/artifacts"
)

// Annotation keys BuildKit puts on attestation-manifest index entries.
const (
	// AnnotationReferenceType is "vnd.docker.reference.type".
	AnnotationReferenceType = artifacts.AnnotationReferenceType
	// AnnotationReferenceDigest is "vnd.docker.reference.digest".
	AnnotationReferenceDigest = artifacts.AnnotationReferenceDigest
	// AttestationManifest is the AnnotationReferenceType value of
	// attestation entries.
	AttestationManifest = artifacts.AttestationManifestType
)

// MultiArchCreated is the creation time of every MultiArch image.
var MultiArchCreated = time.Date(2024, time.May, 1, 12, 0, 0, 0, time.UTC)

// MultiArchPlatforms lists the keys of the map MultiArch returns, in index
// order.
var MultiArchPlatforms = []string{
	"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/s390x", "windows/amd64",
}

// WindowsOSVersion is the os.version of MultiArch's windows/amd64 image.
const WindowsOSVersion = "10.0.17763.6659"

// ImageSpec describes a fixture image built by Image. Content is
// deterministic: the same spec always yields the same digest.
type ImageSpec struct {
	// OS, Architecture, Variant and OSVersion are written to the config file
	// (os, architecture, variant, os.version). OS defaults to "linux" and
	// Architecture to "amd64".
	OS, Architecture, Variant, OSVersion string
	// MediaType is types.OCIManifestSchema1 (the default) or
	// types.DockerManifestSchema2; the config and layer media types follow
	// (OCI config/layer or Docker config/layer).
	MediaType types.MediaType
	// Layers are the contents of each layer (stored uncompressed, as
	// static layers); each gets a history entry "RUN <content>".
	Layers []string
	// EmptyLayersBetween inserts one empty_layer history entry (cycling
	// ENV, CMD and LABEL lines) between consecutive real layers.
	EmptyLayersBetween bool
	// Config is the runtime config (env, cmd, entrypoint, ...). It is copied.
	Config v1.Config
	// Created is the config's and every history entry's creation time.
	Created time.Time
	// Author is the config's author.
	Author string
}

// Image builds a deterministic fixture image from spec. It fails the test on
// error.
func Image(t testing.TB, spec ImageSpec) v1.Image {
	t.Helper()
	mt := spec.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	var cfgMT, layerMT types.MediaType
	switch mt {
	case types.OCIManifestSchema1:
		cfgMT, layerMT = types.OCIConfigJSON, types.OCILayer
	case types.DockerManifestSchema2:
		cfgMT, layerMT = types.DockerConfigJSON, types.DockerLayer
	default:
		t.Fatalf("testregistry.Image: unsupported media type %q", mt)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt), cfgMT)

	created := v1.Time{Time: spec.Created}
	var history []v1.History
	emptyLines := []string{"ENV STEP=%d", `CMD ["step-%d"]`, "LABEL step=%d"}
	var err error
	for i, content := range spec.Layers {
		if i > 0 && spec.EmptyLayersBetween {
			history = append(history, v1.History{
				Created:    created,
				CreatedBy:  fmt.Sprintf(emptyLines[(i-1)%len(emptyLines)], i),
				EmptyLayer: true,
			})
		}
		h := v1.History{Created: created, CreatedBy: "RUN " + content}
		history = append(history, h)
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   static.NewLayer([]byte(content), layerMT),
			History: h,
		})
		if err != nil {
			t.Fatalf("testregistry.Image: append layer %d: %v", i, err)
		}
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("testregistry.Image: config file: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS = spec.OS
	if cf.OS == "" {
		cf.OS = "linux"
	}
	cf.Architecture = spec.Architecture
	if cf.Architecture == "" {
		cf.Architecture = "amd64"
	}
	cf.Variant = spec.Variant
	cf.OSVersion = spec.OSVersion
	cf.Config = *spec.Config.DeepCopy()
	cf.Created = created
	cf.Author = spec.Author
	cf.History = history
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("testregistry.Image: set config file: %v", err)
	}
	if _, err := img.Digest(); err != nil {
		t.Fatalf("testregistry.Image: digest: %v", err)
	}
	return img
}

// RichConfig returns a config with env, cmd, entrypoint, user, working dir,
// exposed ports (80/tcp, 443/tcp), volumes (/data), labels and a stop signal.
// Every call returns fresh slices and maps.
func RichConfig() v1.Config {
	return v1.Config{
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"APP_HOME=/app",
			"GREETING=hello world",
		},
		Cmd:        []string{"--port=8080", "--verbose"},
		Entrypoint: []string{"/usr/local/bin/app", "serve"},
		User:       "1000:1000",
		WorkingDir: "/app",
		ExposedPorts: map[string]struct{}{
			"80/tcp":  {},
			"443/tcp": {},
		},
		Volumes: map[string]struct{}{"/data": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "testapp",
			"org.opencontainers.image.version": "1.2.3",
			"org.opencontainers.image.source":  "https://example.com/testapp",
		},
		StopSignal: "SIGTERM",
	}
}

// IndexEntry is one child of an index built by Index.
type IndexEntry struct {
	// Image is the child image.
	Image v1.Image
	// Platform is the descriptor's platform. If nil, it is taken from the
	// image's config file (os, architecture, variant, os.version), unless
	// NoPlatform is set.
	Platform *v1.Platform
	// Annotations are the descriptor's annotations.
	Annotations map[string]string
	// NoPlatform leaves the descriptor without a platform (Platform must be
	// nil).
	NoPlatform bool
}

// Index builds an index of mediaType (types.OCIImageIndex, the default, or
// types.DockerManifestList) from entries, with their platforms set in the
// descriptors. Children keep their own media types: for a Docker manifest
// list, build them with ImageSpec.MediaType = types.DockerManifestSchema2.
// It fails the test on error.
func Index(t testing.TB, mediaType types.MediaType, entries ...IndexEntry) v1.ImageIndex {
	t.Helper()
	if mediaType == "" {
		mediaType = types.OCIImageIndex
	}
	idx := mutate.IndexMediaType(empty.Index, mediaType)
	adds := make([]mutate.IndexAddendum, 0, len(entries))
	for i, e := range entries {
		p := e.Platform
		if p == nil && !e.NoPlatform {
			cf, err := e.Image.ConfigFile()
			if err != nil {
				t.Fatalf("testregistry.Index: entry %d config file: %v", i, err)
			}
			p = cf.Platform()
		}
		adds = append(adds, mutate.IndexAddendum{
			Add: e.Image,
			Descriptor: v1.Descriptor{
				Platform:    p,
				Annotations: e.Annotations,
			},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	if _, err := idx.Digest(); err != nil {
		t.Fatalf("testregistry.Index: digest: %v", err)
	}
	return idx
}

// MultiArch returns the standard multi-arch fixture: an OCI index with
// linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/s390x and
// windows/amd64 (os.version WindowsOSVersion), followed by BuildKit-style
// attestation entries for amd64 and arm64 (platform unknown/unknown,
// annotations vnd.docker.reference.type=attestation-manifest and
// vnd.docker.reference.digest=<the image's digest>). It also returns the
// platform images keyed by MultiArchPlatforms ("linux/arm/v7",
// "windows/amd64", ...). Each platform image is built from RichConfig with
// the env var "PLATFORM=<key>" appended and the label
// "testregistry.platform=<key>", so their configs differ.
func MultiArch(t testing.TB) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	type plat struct{ key, os, arch, variant, osVersion string }
	plats := []plat{
		{"linux/amd64", "linux", "amd64", "", ""},
		{"linux/arm64/v8", "linux", "arm64", "v8", ""},
		{"linux/arm/v7", "linux", "arm", "v7", ""},
		{"linux/arm/v6", "linux", "arm", "v6", ""},
		{"linux/s390x", "linux", "s390x", "", ""},
		{"windows/amd64", "windows", "amd64", "", WindowsOSVersion},
	}
	images := make(map[string]v1.Image, len(plats))
	var entries, attestations []IndexEntry
	for _, p := range plats {
		cfg := RichConfig()
		cfg.Env = append(cfg.Env, "PLATFORM="+p.key)
		cfg.Labels["testregistry.platform"] = p.key
		img := Image(t, ImageSpec{
			OS:                 p.os,
			Architecture:       p.arch,
			Variant:            p.variant,
			OSVersion:          p.osVersion,
			Layers:             []string{"base " + p.key, "deps " + p.key, "app " + p.key},
			EmptyLayersBetween: true,
			Config:             cfg,
			Created:            MultiArchCreated,
			Author:             "testregistry",
		})
		images[p.key] = img
		entries = append(entries, IndexEntry{Image: img})
		if p.key == "linux/amd64" || p.key == "linux/arm64/v8" {
			attestations = append(attestations, attestationEntry(t, img))
		}
	}
	return Index(t, types.OCIImageIndex, append(entries, attestations...)...), images
}

// attestationEntry builds a BuildKit-style attestation manifest for img with
// an SPDX statement, whose config says unknown/unknown as BuildKit's does.
func attestationEntry(t testing.TB, img v1.Image) IndexEntry {
	t.Helper()
	add, err := artifacts.AttestationManifest(img, "pkg:docker/testregistry/multiarch",
		artifacts.Predicate{Type: PredicateSPDX, JSON: []byte(`{"spdxVersion":"SPDX-2.3"}`)})
	if err != nil {
		t.Fatalf("testregistry: attestation: %v", err)
	}
	att := add.Add.(v1.Image)
	cf, err := att.ConfigFile()
	if err != nil {
		t.Fatalf("testregistry: attestation: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = add.Platform.OS, add.Platform.Architecture
	cf.History = nil
	cf.Created = v1.Time{Time: MultiArchCreated}
	if att, err = mutate.ConfigFile(att, cf); err != nil {
		t.Fatalf("testregistry: attestation: %v", err)
	}
	return IndexEntry{Image: att, Platform: add.Platform, Annotations: add.Annotations}
}
