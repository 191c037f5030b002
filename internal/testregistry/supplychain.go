package testregistry

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/artifacts"
)

// Supply-chain fixtures: what gets attached to an image's digest (signatures,
// SBOMs, provenance), built by the artifacts package (shared with the demo
// registry) with "fixture" placeholders. They are deterministic: the same
// inputs give the same digests.

// Predicate types of in-toto statements.
const (
	// PredicateSLSAProvenance is BuildKit's provenance predicate type.
	PredicateSLSAProvenance = artifacts.PredicateSLSAProvenance
	// PredicateSPDX is BuildKit's SBOM predicate type.
	PredicateSPDX = artifacts.PredicateSPDX
	// PredicateCycloneDX is CycloneDX's predicate type.
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	// AnnotationPredicateType is the layer annotation naming an attestation's predicate type.
	AnnotationPredicateType = artifacts.AnnotationPredicateType
)

// Media and artifact types of the fixtures.
const (
	// MediaTypeCosignSimpleSigning is the layer type of a cosign signature.
	MediaTypeCosignSimpleSigning = artifacts.MediaTypeCosignSimpleSigning
	// ArtifactTypeNotation is notation's signature artifact type.
	ArtifactTypeNotation = artifacts.ArtifactTypeNotation
	// ArtifactTypeSPDX is an SPDX document.
	ArtifactTypeSPDX = "application/spdx+json"
	// MediaTypeInToto is an in-toto statement layer.
	MediaTypeInToto = artifacts.MediaTypeInToto
)

// CosignTag returns cosign's tag for what is attached to subject:
// "sha256-<hex>" followed by suffix (".sig", ".att" or ".sbom").
func CosignTag(subject v1.Hash, suffix string) string {
	return subject.Algorithm + "-" + subject.Hex + suffix
}

// orFatal returns v, or fails the test with err.
func orFatal[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	return v
}

// CosignSignature is artifacts.CosignSignature with the signature
// "MEUCIQDfixture": a cosign-style signature image for subject, as cosign
// pushes it under CosignTag(subject, ".sig").
func CosignSignature(t testing.TB, repo string, subject v1.Hash) v1.Image {
	t.Helper()
	img, err := artifacts.CosignSignature(repo, subject, "MEUCIQDfixture")
	return orFatal(t, img, err)
}

// NotationSignature is artifacts.NotationSignature with the placeholder
// "fixture": a notation-style signature referring to subject.
func NotationSignature(t testing.TB, subject v1.Descriptor) v1.Image {
	t.Helper()
	img, err := artifacts.NotationSignature(subject, "fixture")
	return orFatal(t, img, err)
}

// SBOMReferrer builds an SPDX SBOM referring to subject, with the manifest
// annotations given (nil for none).
func SBOMReferrer(t testing.TB, subject v1.Descriptor, annotations map[string]string) v1.Image {
	t.Helper()
	img, err := artifacts.New(artifacts.Spec{
		ArtifactType:   ArtifactTypeSPDX,
		Subject:        &subject,
		LayerMediaType: ArtifactTypeSPDX,
		Content:        []byte(`{"spdxVersion":"SPDX-2.3","name":"fixture"}`),
		Annotations:    annotations,
	})
	return orFatal(t, img, err)
}

// DescriptorOf returns m's descriptor (media type, size, digest), to use as a subject.
func DescriptorOf(t testing.TB, m partial.Describable) v1.Descriptor {
	t.Helper()
	d, err := partial.Descriptor(m)
	if err != nil {
		t.Fatalf("testregistry.DescriptorOf: %v", err)
	}
	return *d
}

// Write pushes img to repo (under tag, or by digest when tag is empty) with
// go-containerregistry's remote.Write, through the registry's HTTP API: the
// requests are logged, and for an image with a subject it maintains the
// referrers tag-schema fallback (sha256-<hex>) when the registry answers the
// referrers API with 404 (Options.NoReferrersAPI). It returns the digest.
func (r *Registry) Write(t testing.TB, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("testregistry.Write: %v", err)
	}
	var ref name.Reference
	if tag != "" {
		ref, err = name.NewTag(r.Host()+"/"+repo+":"+tag, name.Insecure)
	} else {
		ref, err = name.NewDigest(r.Host()+"/"+repo+"@"+d.String(), name.Insecure)
	}
	if err != nil {
		t.Fatalf("testregistry.Write: %v", err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(r.Transport())); err != nil {
		t.Fatalf("testregistry.Write %s: %v", ref, err)
	}
	return d
}

// AttestedIndex builds a BuildKit-style index of images followed, for each
// image, by an attestation manifest (platform unknown/unknown, annotations
// vnd.docker.reference.type=attestation-manifest and
// vnd.docker.reference.digest=<the image's digest>) with one in-toto statement
// layer per predicate type, annotated in-toto.io/predicate-type.
func AttestedIndex(t testing.TB, images []v1.Image, predicateTypes ...string) v1.ImageIndex {
	t.Helper()
	entries := make([]IndexEntry, 0, 2*len(images))
	for _, img := range images {
		entries = append(entries, IndexEntry{Image: img})
	}
	for _, img := range images {
		entries = append(entries, AttestationManifestEntry(t, img, predicateTypes...))
	}
	return Index(t, types.OCIImageIndex, entries...)
}

// AttestationManifestEntry builds BuildKit's attestation manifest for img
// (artifacts.AttestationManifest), as an index entry, with one in-toto
// statement layer per predicate type, whose predicate is
// {"fixture": <the type without https://>}.
func AttestationManifestEntry(t testing.TB, img v1.Image, predicateTypes ...string) IndexEntry {
	t.Helper()
	predicates := make([]artifacts.Predicate, len(predicateTypes))
	for i, p := range predicateTypes {
		predicate, err := json.Marshal(map[string]string{"fixture": strings.TrimPrefix(p, "https://")})
		predicates[i] = artifacts.Predicate{Type: p, JSON: orFatal(t, predicate, err)}
	}
	add, err := artifacts.AttestationManifest(img, "fixture", predicates...)
	if err != nil {
		t.Fatalf("testregistry.AttestationManifestEntry: %v", err)
	}
	return IndexEntry{Image: add.Add.(v1.Image), Platform: add.Platform, Annotations: add.Annotations}
}
