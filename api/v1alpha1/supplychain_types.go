package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BaseImageSpec says which image an image was built on, when its annotations do
// not say it, and how to reach that image's registry.
type BaseImageSpec struct {
	// ref names the base image, such as "docker.io/library/debian:bookworm-slim",
	// overriding the image's annotations org.opencontainers.image.base.name and
	// .base.digest. Without a recorded digest, the image is outdated when its
	// layers (rootfs diff_ids) do not start with the layers of the base tag's
	// current image for the same platform. When empty, the annotations are used,
	// and an image without them has no base to check.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="spec.baseImage.ref must be an image reference such as docker.io/library/debian:bookworm, without a scheme such as https://"
	// +optional
	Ref string `json:"ref,omitempty"`

	// secretRef names a Secret in the ImageConfig's namespace with credentials for
	// the base image's registry, of the same types as spec.secretRef. Without it,
	// the ImageConfig's own credentials are used for the base only when the base
	// is on the image's own registry; a base on another registry is checked
	// anonymously.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
}

// ReferrersSpec says how often the artifacts attached to the image's digest
// (signatures, SBOMs, provenance) are listed.
type ReferrersSpec struct {
	// interval is how often the attachments are listed again, such as "10h":
	// they can be pushed after the image. They are also listed at once when the
	// digest changes, and never on an unchanged re-check of the tag otherwise.
	// When unset, it is 10 times spec.interval. The minimum is 1m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="spec.referrers.interval must be at least 1m"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// BaseImageStatus is the image this one was built on, and what its tag points to now.
type BaseImageStatus struct {
	// name is the base image's reference, such as "docker.io/library/debian:bookworm-slim":
	// spec.baseImage.ref when set, else the annotation org.opencontainers.image.base.name.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Name string `json:"name,omitempty"`

	// digest is the base image's digest recorded in the image (annotation
	// org.opencontainers.image.base.digest): its index or platform manifest.
	// It is empty when only spec.baseImage.ref names the base.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Digest string `json:"digest,omitempty"`

	// currentDigest is the digest of the base tag's image now, for the image's
	// platform (the platform manifest when the base is an index), as of the last
	// check. It is empty until the base was checked, and kept when a check fails.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	CurrentDigest string `json:"currentDigest,omitempty"`
}

// ReferrersStatus lists what is attached to the image's digest.
type ReferrersStatus struct {
	// entries are the attached artifacts found for the platform manifest and the
	// index, at most 20. Nothing here is verified: a signature entry says that
	// a signature is attached, not that it is valid.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Entries []Referrer `json:"entries,omitempty"`

	// truncated is true when more artifacts were attached than entries holds.
	// +optional
	Truncated bool `json:"truncated,omitempty"`

	// signed is true when at least one entry is a signature (unverified).
	// +required
	Signed bool `json:"signed"`

	// digest is the image digest the entries were listed for.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Digest string `json:"digest,omitempty"`

	// lastListedTime is when the registry was last asked, as recorded in the
	// status: a listing that finds the same entries does not move it, unless it
	// is older than the status heartbeat.
	// +optional
	LastListedTime *metav1.Time `json:"lastListedTime,omitempty"`
}

// Referrer is one artifact attached to the image's digest.
type Referrer struct {
	// digest is the digest of the artifact's manifest.
	// +kubebuilder:validation:MaxLength=256
	// +required
	Digest string `json:"digest"`

	// artifactType is the artifact's type, such as
	// "application/vnd.dev.cosign.artifact.sig.v1+json" or "application/spdx+json".
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ArtifactType string `json:"artifactType,omitempty"`

	// kind is what the artifact is: signature, sbom, provenance, attestation or other.
	// +kubebuilder:validation:Enum=signature;sbom;provenance;attestation;other
	// +required
	Kind string `json:"kind"`

	// format is the artifact's format, such as "cosign", "notation", "spdx",
	// "cyclonedx", "slsa" or "in-toto"; empty when unknown.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Format string `json:"format,omitempty"`

	// source is where it was found: "referrersAPI" (OCI 1.1), "tagSchema" (the
	// OCI sha256-<hex> fallback tag), "cosignTag" (cosign's .sig, .att and .sbom
	// tags) or "index" (a BuildKit attestation manifest in the image index).
	// +kubebuilder:validation:Enum=referrersAPI;tagSchema;cosignTag;index
	// +required
	Source string `json:"source"`
}

// Condition types and reasons of the base image check. The check never changes
// Ready: the image itself resolved.
const (
	// BaseImageOutdatedCondition is True when the base image's tag has moved since
	// the image was built, False when the base is current, Unknown when it could
	// not be checked, and absent when no base is known.
	BaseImageOutdatedCondition string = "BaseImageOutdated"

	// BaseMovedReason means the digest recorded in the image is not the base tag's digest now.
	BaseMovedReason string = "BaseMoved"

	// RebuiltOnOlderBaseReason means the image's layers start with an older image of the base tag.
	RebuiltOnOlderBaseReason string = "RebuiltOnOlderBase"

	// BaseNotInLayersReason means the image's layers do not start with the base tag's current layers.
	BaseNotInLayersReason string = "BaseNotInLayers"

	// BaseCurrentReason means the image is built on what the base tag points to now.
	BaseCurrentReason string = "BaseCurrent"

	// InvalidBaseReferenceReason means the base image's name does not parse as an image reference; no request was made.
	InvalidBaseReferenceReason string = "InvalidBaseReference"

	// BaseRegistryNotAllowedReason means the manager's network policy refused the base image's registry; no request was made.
	BaseRegistryNotAllowedReason string = "BaseRegistryNotAllowed"

	// BaseCheckFailedReason means the base image's registry could not answer, or refused; the last result is kept.
	BaseCheckFailedReason string = "BaseCheckFailed"
)

// Event reasons of the supply-chain checks.
const (
	// BaseImageMovedEvent is emitted once per move of the base image's tag away from the image's base.
	BaseImageMovedEvent string = "BaseImageMoved"
)
