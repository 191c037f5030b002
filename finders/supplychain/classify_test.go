package supplychain

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name         string
		in           classification
		kind, format string
	}{
		{"cosign .sig tag", classification{cosignTag: ".sig"}, KindSignature, FormatCosign},
		{"cosign .att tag", classification{cosignTag: ".att"}, KindAttestation, FormatCosign},
		{"cosign .sbom tag", classification{cosignTag: ".sbom"}, KindSBOM, FormatCosign},
		{"cosign OCI 1.1 signature", classification{artifactType: ArtifactTypeCosignSignature}, KindSignature, FormatCosign},
		{"sigstore bundle", classification{artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json"}, KindSignature, FormatCosign},
		{"sigstore bundle of an SLSA attestation", classification{artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
			predicate: "https://slsa.dev/provenance/v1"}, KindProvenance, FormatSLSA},
		{"cosign simple signing layer", classification{artifactType: "", layerTypes: []string{"application/vnd.dev.cosign.simplesigning.v1+json"}}, KindSignature, FormatCosign},
		{"notation", classification{artifactType: ArtifactTypeNotationSignature}, KindSignature, FormatNotation},
		{"SPDX JSON", classification{artifactType: "application/spdx+json"}, KindSBOM, FormatSPDX},
		{"SPDX tag-value", classification{artifactType: "text/spdx"}, KindSBOM, FormatSPDX},
		{"CycloneDX XML", classification{artifactType: "application/vnd.cyclonedx+xml"}, KindSBOM, FormatCycloneDX},
		{"CycloneDX with version parameter", classification{artifactType: "application/vnd.cyclonedx+json; version=1.5"}, KindSBOM, FormatCycloneDX},
		{"in-toto SLSA provenance v0.2", classification{artifactType: ArtifactTypeInToto, predicate: "https://slsa.dev/provenance/v0.2"}, KindProvenance, FormatSLSA},
		{"in-toto SPDX", classification{artifactType: ArtifactTypeInToto, predicate: "https://spdx.dev/Document"}, KindSBOM, FormatSPDX},
		{"in-toto CycloneDX", classification{artifactType: ArtifactTypeInToto, predicate: "https://cyclonedx.org/bom/v1.4"}, KindSBOM, FormatCycloneDX},
		{"in-toto vulnerability scan", classification{artifactType: ArtifactTypeInToto, predicate: "https://cosign.sigstore.dev/attestation/vuln/v1"}, KindAttestation, FormatInToto},
		{"in-toto without predicate", classification{artifactType: ArtifactTypeInToto}, KindAttestation, FormatInToto},
		{"DSSE envelope layer", classification{layerTypes: []string{"application/vnd.dsse.envelope.v1+json"}}, KindAttestation, FormatInToto},
		{"unknown artifact", classification{artifactType: "application/vnd.example.thing"}, KindOther, ""},
		{"nothing known", classification{}, KindOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, format := classify(tc.in)
			if kind != tc.kind || format != tc.format {
				t.Errorf("classify(%+v) = %q, %q; want %q, %q", tc.in, kind, format, tc.kind, tc.format)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	res := func(digest, manifest string) *manifests.Result {
		return &manifests.Result{Summary: manifests.Summary{Digest: digest, ManifestDigest: manifest}}
	}
	tests := []struct {
		name string
		in   *manifests.Result
		want []string
	}{
		{"nil", nil, nil},
		{"nothing resolved", res("", ""), nil},
		{"single-platform image", res("sha256:m", "sha256:m"), []string{"sha256:m"}},
		{"index: the platform manifest, then the index", res("sha256:i", "sha256:m"), []string{"sha256:m", "sha256:i"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Subjects(tc.in)); diff != "" {
				t.Errorf("Subjects (-want +got):\n%s", diff)
			}
		})
	}
}
