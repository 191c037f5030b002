// Package supplychain answers two supply-chain questions about a resolved image,
// with a few registry requests and no Kubernetes types:
//
//   - CheckBase: is the base image the image was built on still current?
//   - ListReferrers: what is attached to the image's digests (signatures,
//     SBOMs, provenance and other attestations)?
//
// Every registry request goes through go-containerregistry, with the options
// (credentials, HTTPS enforcement, network policy, timeouts) of finders/manifests.
// Nothing here verifies a signature: the entries keep what keyed verification
// would need (digest, artifact type, annotations), and that is all.
package supplychain

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// BaseCheck is the answer to "is this image's base still current?".
type BaseCheck struct {
	// Name is the base reference checked: the annotation
	// org.opencontainers.image.base.name, or BaseOptions.Ref.
	Name string `json:"name"`
	// Digest is the digest recorded in the image (the annotation
	// org.opencontainers.image.base.digest); "" when only a ref was given.
	Digest string `json:"digest,omitempty"`
	// CurrentDigest is the base tag's digest now: the platform manifest matching
	// the image's platform when the base is a multi-platform index.
	CurrentDigest string `json:"currentDigest,omitempty"`
	// Outdated is true when the image was not built on the current base.
	Outdated bool `json:"outdated"`
	// Reason is "" when current, else ReasonBaseMoved, ReasonRebuiltOnOlderBase
	// or ReasonBaseNotInLayers.
	Reason string `json:"reason,omitempty"`
	// Message is a human sentence: the old and new digests, or which case applies.
	Message string `json:"message,omitempty"`
}

// The reasons a base is outdated.
const (
	// ReasonBaseMoved: the recorded base digest is not the base tag's current
	// digest (annotations case).
	ReasonBaseMoved = "BaseMoved"
	// ReasonRebuiltOnOlderBase: the image's diff_ids start with an older base's
	// diff_ids (ref case, when that older base is knowable).
	ReasonRebuiltOnOlderBase = "RebuiltOnOlderBase"
	// ReasonBaseNotInLayers: the image's diff_ids do not start with the current
	// base's diff_ids (ref case).
	ReasonBaseNotInLayers = "BaseNotInLayers"
)

// BaseOptions says how to check a base.
type BaseOptions struct {
	// Ref overrides the base named by the image's annotations (spec.baseImage.ref).
	// "" means use the annotations.
	Ref string
	// Platform is the image's platform; the base's platform manifest is chosen to
	// match it. Nil means the image's Result.Platform, else linux/amd64.
	Platform *v1.Platform
	// Resolve resolves the base reference. Pass (*manifests.Shared).Resolve so the
	// base tag's HEAD is shared by every image on that base within the head window.
	// Nil means manifests.Resolve.
	Resolve func(ctx context.Context, o manifests.Options) (*manifests.Result, error)
	// Registry is the template of options for the base's registry (credentials,
	// insecure, network policy, timeouts). CheckBase sets its Registry,
	// Repository, Tag, Digest and Platform from the base reference.
	Registry manifests.Options
}

// Referrer is one thing attached to a digest.
type Referrer struct {
	// Digest is the attached manifest's digest.
	Digest string `json:"digest"`
	// ArtifactType is the attached manifest's artifact type (or its config's
	// media type when it has none).
	ArtifactType string `json:"artifactType,omitempty"`
	// Kind is KindSignature, KindSBOM, KindProvenance, KindAttestation or KindOther.
	Kind string `json:"kind"`
	// Format names the producer or document format: "cosign", "notation",
	// "spdx", "cyclonedx", "slsa", "in-toto" or "".
	Format string `json:"format,omitempty"`
	// Source is where it was found: SourceReferrersAPI, SourceTagSchema,
	// SourceCosignTag or SourceIndex.
	Source string `json:"source"`
	// Subject is the digest it refers to (the platform manifest or the index).
	Subject string `json:"subject,omitempty"`
	// Annotations are the descriptor's annotations, kept raw (bounded) so keyed
	// verification can be added later. They are registry data: never render
	// them unescaped.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Referrer kinds.
const (
	// KindSignature is a signature (cosign, notation).
	KindSignature = "signature"
	// KindSBOM is a software bill of materials (SPDX, CycloneDX).
	KindSBOM = "sbom"
	// KindProvenance is build provenance (SLSA).
	KindProvenance = "provenance"
	// KindAttestation is another attestation (in-toto statement, cosign .att).
	KindAttestation = "attestation"
	// KindOther is anything else attached.
	KindOther = "other"
)

// Referrer sources.
const (
	// SourceReferrersAPI: the OCI 1.1 referrers API, GET /v2/<name>/referrers/<digest>.
	SourceReferrersAPI = "referrersAPI"
	// SourceTagSchema: the OCI referrers tag schema fallback, tag sha256-<hex>.
	SourceTagSchema = "tagSchema"
	// SourceCosignTag: cosign's tags sha256-<hex>.sig, .att and .sbom.
	SourceCosignTag = "cosignTag"
	// SourceIndex: a BuildKit attestation manifest inside the image index.
	SourceIndex = "index"
)

// Referrers is the bounded list for one image.
type Referrers struct {
	// Entries are the referrers found, at most ReferrersOptions.Max.
	Entries []Referrer `json:"entries"`
	// Truncated is true when more were found than Entries holds.
	Truncated bool `json:"truncated,omitempty"`
	// IgnoredSubjects counts entries whose subject was another digest.
	IgnoredSubjects int `json:"ignoredSubjects,omitempty"`
	// Requests counts the registry requests made, for metrics and tests.
	Requests int `json:"requests"`
	// Notes say which sources were skipped and why (a fallback tag that is
	// not an index, a listed referrer that is missing); at most Max of them.
	Notes []string `json:"notes,omitempty"`
}

// ReferrersOptions says what to list referrers for.
type ReferrersOptions struct {
	// Registry are the image's registry options; Registry and Repository name the
	// image's repository (Tag, Digest and Platform are ignored).
	Registry manifests.Options
	// Subjects are the digests to list for: the platform manifest digest and the
	// index digest, if any.
	Subjects []string
	// Index is the raw image index if the image is one (for BuildKit attestation
	// manifests); nil otherwise. A result confirmed by a HEAD carries no RawIndex:
	// get the bytes with (*manifests.Shared).FetchRaw or manifests.FetchRaw, or
	// the BuildKit attestations are not listed.
	Index []byte
	// Max bounds the entries; zero means MaxReferrers.
	Max int
}

// MaxReferrers is the default bound of Referrers.Entries.
const MaxReferrers = 20

// Subjects returns the digests to list referrers for in a resolution: its
// platform manifest, and its index when it has one.
func Subjects(res *manifests.Result) []string {
	if res == nil || res.ManifestDigest == "" {
		return nil
	}
	if res.Digest != "" && res.Digest != res.ManifestDigest {
		return []string{res.ManifestDigest, res.Digest}
	}
	return []string{res.ManifestDigest}
}
