// Package artifacts builds what supply-chain tools attach to an image's
// digest, laid out as cosign, notation and BuildKit push them: signatures,
// attestation manifests of in-toto statements, and single-blob artifacts such
// as SBOMs. The builds are deterministic: the same inputs give the same
// digests.
//
// It does not import testing: the offline demo registry (internal/demo) and
// the test kit (testregistry, whose helpers wrap these and fail the test on
// error) build their artifacts here, with their own placeholder payloads.
package artifacts

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Predicate types of in-toto statements, and the layer annotation that names them.
const (
	// PredicateSLSAProvenance is BuildKit's provenance predicate type.
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v0.2"
	// PredicateSPDX is BuildKit's SBOM predicate type.
	PredicateSPDX = "https://spdx.dev/Document"
	// AnnotationPredicateType is the layer annotation naming an attestation's predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
)

// Media and artifact types.
const (
	// MediaTypeCosignSimpleSigning is the layer type of a cosign signature.
	MediaTypeCosignSimpleSigning types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// ArtifactTypeNotation is notation's signature artifact type.
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	// MediaTypeInToto is an in-toto statement layer.
	MediaTypeInToto types.MediaType = "application/vnd.in-toto+json"
)

// Annotations BuildKit puts on an attestation manifest's index entry.
const (
	// AnnotationReferenceType is "vnd.docker.reference.type".
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest is "vnd.docker.reference.digest", the digest
	// of the image the attestations are about.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// AttestationManifestType is the AnnotationReferenceType value of attestation entries.
	AttestationManifestType = "attestation-manifest"
)

// Spec describes an artifact built by New.
type Spec struct {
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

// New builds an OCI manifest carrying one blob, as signers and SBOM tools push them.
func New(spec Spec) (v1.Image, error) {
	configType := types.OCIConfigJSON
	if spec.ArtifactType != "" {
		configType = types.MediaType(spec.ArtifactType)
	}
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), configType), mutate.Addendum{
		Layer:       static.NewLayer(spec.Content, spec.LayerMediaType),
		Annotations: spec.LayerAnnotations,
	})
	if err != nil {
		return nil, fmt.Errorf("artifact layer: %w", err)
	}
	if len(spec.Annotations) > 0 {
		img = mutate.Annotations(img, spec.Annotations).(v1.Image)
	}
	if spec.Subject != nil {
		img = mutate.Subject(img, *spec.Subject).(v1.Image)
	}
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("artifact digest: %w", err)
	}
	return img, nil
}

// CosignSignature builds a cosign-style signature image of subject in repo, as
// cosign pushes it under the tag sha256-<hex>.sig: one layer of media type
// MediaTypeCosignSimpleSigning (the signed payload naming repo and subject)
// annotated dev.cosignproject.cosign/signature with signature, which nothing
// here verifies.
func CosignSignature(repo string, subject v1.Hash, signature string) (v1.Image, error) {
	payload, err := json.Marshal(map[string]any{"critical": map[string]any{
		"identity": map[string]string{"docker-reference": repo},
		"image":    map[string]string{"docker-manifest-digest": subject.String()},
		"type":     "cosign container image signature",
	}})
	if err != nil {
		return nil, err
	}
	return New(Spec{
		LayerMediaType:   MediaTypeCosignSimpleSigning,
		Content:          payload,
		LayerAnnotations: map[string]string{"dev.cosignproject.cosign/signature": signature},
	})
}

// NotationSignature builds a notation-style signature referring to subject:
// artifact type ArtifactTypeNotation, one JWS envelope layer whose payload,
// protected header and signature are placeholder, and placeholder as the
// certificate chain's thumbprint. Nothing here verifies them.
func NotationSignature(subject v1.Descriptor, placeholder string) (v1.Image, error) {
	envelope, err := json.Marshal(map[string]string{"payload": placeholder, "protected": placeholder, "signature": placeholder})
	if err != nil {
		return nil, err
	}
	thumbprints, err := json.Marshal([]string{placeholder})
	if err != nil {
		return nil, err
	}
	return New(Spec{
		ArtifactType:   ArtifactTypeNotation,
		Subject:        &subject,
		LayerMediaType: "application/jose+json",
		Content:        envelope,
		Annotations:    map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": string(thumbprints)},
	})
}

// Predicate is one in-toto statement's predicate: its type and its JSON.
type Predicate struct {
	Type string
	JSON json.RawMessage
}

// statement is an in-toto statement (v0.1), in the field order BuildKit writes.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// AttestationManifest builds BuildKit's attestation manifest for img, as the
// index entry BuildKit puts after the platform images: platform
// unknown/unknown, annotated AnnotationReferenceType=AttestationManifestType and
// AnnotationReferenceDigest=<img's digest>. It has one in-toto statement layer
// (MediaTypeInToto, annotated AnnotationPredicateType) per predicate, whose
// subject is img under subjectName.
func AttestationManifest(img v1.Image, subjectName string, predicates ...Predicate) (mutate.IndexAddendum, error) {
	d, err := img.Digest()
	if err != nil {
		return mutate.IndexAddendum{}, err
	}
	att := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, p := range predicates {
		layer, err := json.Marshal(statement{
			Type:          "https://in-toto.io/Statement/v0.1",
			PredicateType: p.Type,
			Subject:       []subject{{Name: subjectName, Digest: map[string]string{d.Algorithm: d.Hex}}},
			Predicate:     p.JSON,
		})
		if err != nil {
			return mutate.IndexAddendum{}, fmt.Errorf("in-toto statement %s: %w", p.Type, err)
		}
		att, err = mutate.Append(att, mutate.Addendum{
			Layer:       static.NewLayer(layer, MediaTypeInToto),
			Annotations: map[string]string{AnnotationPredicateType: p.Type},
		})
		if err != nil {
			return mutate.IndexAddendum{}, err
		}
	}
	return mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{AnnotationReferenceType: AttestationManifestType, AnnotationReferenceDigest: d.String()},
	}}, nil
}
