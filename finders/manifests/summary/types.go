package summary

import (
	"fmt"
	"time"
)

// Summary is what was resolved, in the shape of the ImageConfig status:
// the JSON field names are the same.
type Summary struct {
	// ImageRef is the canonical reference, such as "index.docker.io/library/nginx:1.27".
	ImageRef string `json:"imageRef,omitempty"`
	// Digest is what the tag points to: an index or a manifest.
	Digest string `json:"digest,omitempty"`
	// MediaType is the media type of what the tag points to.
	MediaType string `json:"mediaType,omitempty"`
	// ManifestDigest is the selected platform's manifest.
	ManifestDigest string `json:"manifestDigest,omitempty"`
	// ConfigDigest is the config blob's digest.
	ConfigDigest string `json:"configDigest,omitempty"`
	// Platform is the selected platform as os/architecture[/variant].
	Platform string `json:"platform,omitempty"`
	// Platforms lists every index entry; empty for a single-platform image.
	Platforms []IndexEntry `json:"platforms,omitempty"`
	// Config summarises the config blob.
	Config *BuildConfig `json:"config,omitempty"`
	// Layers are the layers joined to the history entries that created them.
	Layers []Layer `json:"layers,omitempty"`
	// LayerHistoryNote explains why createdBy is empty when history and layers do not pair.
	LayerHistoryNote string `json:"layerHistoryNote,omitempty"`
	// LayerCount is len(Layers).
	LayerCount int32 `json:"layerCount,omitempty"`
	// TotalSize is the sum of the compressed layer sizes.
	TotalSize int64 `json:"totalSize,omitempty"`
	// BaseImage is the image this one was built on, as its annotations or labels
	// declare it; nil when none is declared. It is never guessed.
	BaseImage *BaseImage `json:"baseImage,omitempty"`
	// AuthSource names where the credentials came from: "anonymous", or the name of
	// the Options.Auth.Sources entry that was used. It never holds a credential.
	AuthSource string `json:"authSource,omitempty"`
}

// BaseImage names the image an image was built on, from the OCI annotations
// org.opencontainers.image.base.name and org.opencontainers.image.base.digest.
type BaseImage struct {
	// Name is the base image's reference, such as "docker.io/library/debian:bookworm-slim".
	Name string `json:"name,omitempty"`
	// Digest is the base image's manifest or index digest.
	Digest string `json:"digest,omitempty"`
}

// IndexEntry is one entry of an image index.
type IndexEntry struct {
	// OS is the entry's operating system; "unknown" for attestations.
	OS string `json:"os,omitempty"`
	// Architecture is the entry's CPU architecture.
	Architecture string `json:"architecture,omitempty"`
	// Variant is the entry's CPU variant.
	Variant string `json:"variant,omitempty"`
	// OSVersion is the entry's operating system version.
	OSVersion string `json:"osVersion,omitempty"`
	// Digest is the digest of the entry's manifest.
	Digest string `json:"digest"`
	// Size is the size of the entry's manifest in bytes.
	Size int64 `json:"size,omitempty"`
	// MediaType is the media type of the entry's manifest.
	MediaType string `json:"mediaType,omitempty"`
	// Attestation marks an attestation manifest, which is never selected.
	Attestation bool `json:"attestation,omitempty"`
}

// BuildConfig summarises an image config blob.
type BuildConfig struct {
	// Created is when the image was built.
	Created *time.Time `json:"created,omitempty"`
	// Author is the image's author.
	Author string `json:"author,omitempty"`
	// OS is the operating system the image was built for.
	OS string `json:"os,omitempty"`
	// Architecture is the CPU architecture the image was built for.
	Architecture string `json:"architecture,omitempty"`
	// Variant is the CPU variant the image was built for.
	Variant string `json:"variant,omitempty"`
	// OSVersion is the operating system version the image was built for.
	OSVersion string `json:"osVersion,omitempty"`
	// User is the user the container runs as.
	User string `json:"user,omitempty"`
	// Env is the container's environment as NAME=value lines.
	Env []string `json:"env,omitempty"`
	// Entrypoint is the container's entrypoint.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Cmd is the container's default arguments.
	Cmd []string `json:"cmd,omitempty"`
	// WorkingDir is the container's working directory.
	WorkingDir string `json:"workingDir,omitempty"`
	// ExposedPorts are the declared ports, such as "80/tcp", sorted.
	ExposedPorts []string `json:"exposedPorts,omitempty"`
	// Volumes are the declared volumes, sorted.
	Volumes []string `json:"volumes,omitempty"`
	// Labels are the image's labels.
	Labels map[string]string `json:"labels,omitempty"`
	// StopSignal is the signal that stops the container.
	StopSignal string `json:"stopSignal,omitempty"`
}

// Layer is one layer, joined to its history entry.
type Layer struct {
	// Digest is the digest of the compressed layer blob.
	Digest string `json:"digest"`
	// DiffID is the digest of the uncompressed layer, from the config's rootfs.
	DiffID string `json:"diffID,omitempty"`
	// MediaType is the layer's media type.
	MediaType string `json:"mediaType,omitempty"`
	// Size is the size of the compressed layer in bytes.
	Size int64 `json:"size,omitempty"`
	// Created is when the history entry says the layer was created.
	Created *time.Time `json:"created,omitempty"`
	// CreatedBy is the build instruction that created the layer.
	CreatedBy string `json:"createdBy,omitempty"`
	// Comment is the history entry's comment.
	Comment string `json:"comment,omitempty"`
}

// String renders an entry as the CLI prints it: "os/arch[/variant] digest size".
func (e IndexEntry) String() string {
	p := e.OS + "/" + e.Architecture
	if e.Variant != "" {
		p += "/" + e.Variant
	}
	return fmt.Sprintf("%s %s %d", p, e.Digest, e.Size)
}
