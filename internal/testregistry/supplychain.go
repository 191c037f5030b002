package testregistry

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Supply-chain fixtures: what gets attached to an image's digest (signatures,
// SBOMs, provenance), built with go-containerregistry as cosign, notation and
// BuildKit lay them out. They are deterministic: the same inputs give the same
// digests.

// Predicate types of in-toto statements.
const (
	// PredicateSLSAProvenance is BuildKit's provenance predicate type.
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v0.2"
	// PredicateSPDX is BuildKit's SBOM predicate type.
	PredicateSPDX = "https://spdx.dev/Document"
	// PredicateCycloneDX is CycloneDX's predicate type.
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	// AnnotationPredicateType is the layer annotation naming an attestation's predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
)

// Media and artifact types of the fixtures.
const (
	// MediaTypeCosignSimpleSigning is the layer type of a cosign signature.
	MediaTypeCosignSimpleSigning types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// ArtifactTypeNotation is notation's signature artifact type.
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	// ArtifactTypeSPDX is an SPDX document.
	ArtifactTypeSPDX = "application/spdx+json"
	// MediaTypeInToto is an in-toto statement layer.
	MediaTypeInToto types.MediaType = "application/vnd.in-toto+json"
)

// CosignTag returns cosign's tag for what is attached to subject:
// "sha256-<hex>" followed by suffix (".sig", ".att" or ".sbom").
func CosignTag(subject v1.Hash, suffix string) string {
	return subject.Algorithm + "-" + subject.Hex + suffix
}

// CosignSignature builds a cosign-style signature image for subject, as cosign
// pushes under CosignTag(subject, ".sig"): one layer of media type
// MediaTypeCosignSimpleSigning (the signed payload naming the subject) with the
// annotation dev.cosignproject.cosign/signature.
func CosignSignature(t testing.TB, repo string, subject v1.Hash) v1.Image {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": subject.String()},
			"type":     "cosign container image signature",
		},
	})
	if err != nil {
		t.Fatalf("testregistry.CosignSignature: %v", err)
	}
	return Artifact(t, ArtifactSpec{
		LayerMediaType:   MediaTypeCosignSimpleSigning,
		Content:          payload,
		LayerAnnotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQDfixture"},
	})
}

// ArtifactSpec describes an artifact built by Artifact.
type ArtifactSpec struct {
	// ArtifactType becomes the config's media type, which OCI 1.1 reads as the
	// artifact type when a manifest has no artifactType field (notation 1.0 and
	// go-containerregistry's registry do the same). Empty keeps an OCI config.
	ArtifactType string
	// Subject, when set, makes the artifact a referrer of that manifest.
	Subject *v1.Descriptor
	// LayerMediaType and Content make its one layer.
	LayerMediaType types.MediaType
	Content        []byte
	// Annotations are the manifest's; LayerAnnotations the layer's.
	Annotations, LayerAnnotations map[string]string
}

// Artifact builds an OCI manifest carrying one blob, as signers and SBOM
// tools push them.
func Artifact(t testing.TB, spec ArtifactSpec) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if spec.ArtifactType != "" {
		img = mutate.ConfigMediaType(img, types.MediaType(spec.ArtifactType))
	}
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer(spec.Content, spec.LayerMediaType),
		Annotations: spec.LayerAnnotations,
	})
	if err != nil {
		t.Fatalf("testregistry.Artifact: %v", err)
	}
	if len(spec.Annotations) > 0 {
		img = mutate.Annotations(img, spec.Annotations).(v1.Image)
	}
	if spec.Subject != nil {
		img = mutate.Subject(img, *spec.Subject).(v1.Image)
	}
	if _, err := img.Digest(); err != nil {
		t.Fatalf("testregistry.Artifact: digest: %v", err)
	}
	return img
}

// NotationSignature builds a notation-style signature of subject: artifact
// type application/vnd.cncf.notary.signature, a JWS envelope layer.
func NotationSignature(t testing.TB, subject v1.Descriptor) v1.Image {
	t.Helper()
	return Artifact(t, ArtifactSpec{
		ArtifactType:   ArtifactTypeNotation,
		Subject:        &subject,
		LayerMediaType: "application/jose+json",
		Content:        []byte(`{"payload":"fixture","protected":"fixture","signature":"fixture"}`),
		Annotations:    map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": `["fixture"]`},
	})
}

// SBOMReferrer builds an SPDX SBOM referring to subject, with the manifest
// annotations given (nil for none).
func SBOMReferrer(t testing.TB, subject v1.Descriptor, annotations map[string]string) v1.Image {
	t.Helper()
	return Artifact(t, ArtifactSpec{
		ArtifactType:   ArtifactTypeSPDX,
		Subject:        &subject,
		LayerMediaType: ArtifactTypeSPDX,
		Content:        []byte(`{"spdxVersion":"SPDX-2.3","name":"fixture"}`),
		Annotations:    annotations,
	})
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

// unknownPlatform is the os and architecture BuildKit gives attestation manifests.
const unknownPlatform = "unknown"

// AttestationManifestEntry builds BuildKit's attestation manifest for img, as
// an index entry, with one in-toto statement layer per predicate type.
func AttestationManifestEntry(t testing.TB, img v1.Image, predicateTypes ...string) IndexEntry {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("testregistry.AttestationManifestEntry: %v", err)
	}
	att := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, p := range predicateTypes {
		statement, err := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v0.1",
			"predicateType": p,
			"subject":       []map[string]any{{"name": "fixture", "digest": map[string]string{d.Algorithm: d.Hex}}},
			"predicate":     map[string]any{"fixture": strings.TrimPrefix(p, "https://")},
		})
		if err != nil {
			t.Fatalf("testregistry.AttestationManifestEntry: %v", err)
		}
		att, err = mutate.Append(att, mutate.Addendum{
			Layer:       static.NewLayer(statement, MediaTypeInToto),
			Annotations: map[string]string{AnnotationPredicateType: p},
		})
		if err != nil {
			t.Fatalf("testregistry.AttestationManifestEntry: %v", err)
		}
	}
	return IndexEntry{
		Image:    att,
		Platform: &v1.Platform{OS: unknownPlatform, Architecture: unknownPlatform},
		Annotations: map[string]string{
			AnnotationReferenceType:   AttestationManifest,
			AnnotationReferenceDigest: d.String(),
		},
	}
}
