package supplychain

import "strings"

// Formats of referrers.
const (
	FormatCosign    = "cosign"
	FormatNotation  = "notation"
	FormatSPDX      = "spdx"
	FormatCycloneDX = "cyclonedx"
	FormatSLSA      = "slsa"
	FormatInToto    = "in-toto"
)

// Annotations and media types the classification reads.
const (
	// PredicateTypeAnnotation is BuildKit's (and in-toto's) annotation on an
	// attestation layer naming its predicate type.
	PredicateTypeAnnotation = "in-toto.io/predicate-type"
	// cosignPredicateAnnotation is cosign's annotation on a .att layer.
	cosignPredicateAnnotation = "predicateType"
	// sigstoreBundlePredicateAnnotation is cosign 3's annotation on a bundle referrer.
	sigstoreBundlePredicateAnnotation = "dev.sigstore.bundle.predicateType"

	// ReferenceTypeAnnotation marks an index entry as an attestation manifest (BuildKit).
	ReferenceTypeAnnotation = "vnd.docker.reference.type"
	// ReferenceDigestAnnotation names the manifest an attestation manifest is about (BuildKit).
	ReferenceDigestAnnotation = "vnd.docker.reference.digest"
	// AttestationManifestType is BuildKit's ReferenceTypeAnnotation value.
	AttestationManifestType = "attestation-manifest"

	// ArtifactTypeCosignSignature is cosign's OCI 1.1 signature artifact type.
	ArtifactTypeCosignSignature = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// ArtifactTypeNotationSignature is notation's signature artifact type.
	ArtifactTypeNotationSignature = "application/vnd.cncf.notary.signature"
	// ArtifactTypeInToto is an in-toto statement.
	ArtifactTypeInToto = "application/vnd.in-toto+json"
)

// classification is what one referrer looks like, for classify.
type classification struct {
	// artifactType is the manifest's artifact type, or its config's media type.
	artifactType string
	// predicate is an in-toto predicate type, when a layer or annotation names one.
	predicate string
	// layerTypes are the media types of the manifest's layers.
	layerTypes []string
	// cosignTag is ".sig", ".att" or ".sbom" for an entry found by cosign's tags.
	cosignTag string
}

// classify returns the kind and format of a referrer. The predicate type, when
// known, decides; then the artifact type; then the layers' media types.
func classify(c classification) (kind, format string) {
	switch c.cosignTag {
	case ".sig":
		return KindSignature, FormatCosign
	case ".att":
		return KindAttestation, FormatCosign
	case ".sbom":
		return KindSBOM, FormatCosign
	}
	if c.predicate != "" {
		return classifyPredicate(c.predicate)
	}
	if k, f := classifyMediaType(c.artifactType); k != "" {
		return k, f
	}
	for _, mt := range c.layerTypes {
		if k, f := classifyMediaType(mt); k != "" {
			return k, f
		}
	}
	return KindOther, ""
}

// classifyPredicate classifies an in-toto predicate type.
func classifyPredicate(p string) (kind, format string) {
	switch {
	case strings.HasPrefix(p, "https://slsa.dev/provenance/"):
		return KindProvenance, FormatSLSA
	case strings.HasPrefix(p, "https://spdx.dev/Document"):
		return KindSBOM, FormatSPDX
	case strings.HasPrefix(p, "https://cyclonedx.org/bom"):
		return KindSBOM, FormatCycloneDX
	default:
		return KindAttestation, FormatInToto
	}
}

// classifyMediaType classifies an artifact or layer media type; "" when unknown.
func classifyMediaType(mt string) (kind, format string) {
	mt, _, _ = strings.Cut(mt, ";")
	switch {
	case mt == "":
		return "", ""
	case mt == ArtifactTypeCosignSignature, mt == "application/vnd.dev.cosign.simplesigning.v1+json",
		strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle"):
		return KindSignature, FormatCosign
	case mt == ArtifactTypeNotationSignature:
		return KindSignature, FormatNotation
	case strings.HasPrefix(mt, "application/spdx"), strings.HasPrefix(mt, "text/spdx"),
		strings.HasPrefix(mt, "application/vnd.spdx"):
		return KindSBOM, FormatSPDX
	case strings.HasPrefix(mt, "application/vnd.cyclonedx"):
		return KindSBOM, FormatCycloneDX
	case mt == "application/vnd.dev.cosign.artifact.sbom.v1+json":
		return KindSBOM, FormatCosign
	case mt == ArtifactTypeInToto, mt == "application/vnd.dsse.envelope.v1+json":
		return KindAttestation, FormatInToto
	}
	return "", ""
}
