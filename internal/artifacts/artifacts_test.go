package artifacts_test

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/artifacts"
)

// layers returns img's manifest and each layer's content, decoded as JSON.
func layers(t *testing.T, img v1.Image) (*v1.Manifest, []any) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var contents []any
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("layer is not JSON: %v: %s", err, b)
		}
		contents = append(contents, v)
	}
	return m, contents
}

func subjectImage(t *testing.T) (v1.Image, v1.Descriptor) {
	t.Helper()
	img, err := artifacts.New(artifacts.Spec{LayerMediaType: types.OCILayer, Content: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, *d
}

func TestCosignSignature(t *testing.T) {
	_, subject := subjectImage(t)
	img, err := artifacts.CosignSignature("team/app", subject.Digest, "MEUCIQDx")
	if err != nil {
		t.Fatal(err)
	}
	m, contents := layers(t, img)
	if len(m.Layers) != 1 || m.Layers[0].MediaType != artifacts.MediaTypeCosignSimpleSigning || m.Config.MediaType != types.OCIConfigJSON || m.Subject != nil {
		t.Fatalf("manifest: %+v", m)
	}
	if diff := cmp.Diff(map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQDx"}, m.Layers[0].Annotations); diff != "" {
		t.Errorf("layer annotations (-want +got):\n%s", diff)
	}
	want := map[string]any{"critical": map[string]any{
		"identity": map[string]any{"docker-reference": "team/app"},
		"image":    map[string]any{"docker-manifest-digest": subject.Digest.String()},
		"type":     "cosign container image signature",
	}}
	if diff := cmp.Diff([]any{want}, contents); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestNotationSignature(t *testing.T) {
	_, subject := subjectImage(t)
	img, err := artifacts.NotationSignature(subject, "x")
	if err != nil {
		t.Fatal(err)
	}
	m, contents := layers(t, img)
	if m.Config.MediaType != artifacts.ArtifactTypeNotation || len(m.Layers) != 1 || m.Layers[0].MediaType != "application/jose+json" {
		t.Fatalf("manifest: %+v", m)
	}
	if diff := cmp.Diff(&subject, m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": `["x"]`}, m.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{map[string]any{"payload": "x", "protected": "x", "signature": "x"}}, contents); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
}

func TestAttestationManifest(t *testing.T) {
	img, subject := subjectImage(t)
	add, err := artifacts.AttestationManifest(img, "team/app",
		artifacts.Predicate{Type: artifacts.PredicateSLSAProvenance, JSON: []byte(`{"builder":{"id":"b"}}`)},
		artifacts.Predicate{Type: artifacts.PredicateSPDX, JSON: []byte(`{"spdxVersion":"SPDX-2.3"}`)})
	if err != nil {
		t.Fatal(err)
	}
	wantDesc := v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{artifacts.AnnotationReferenceType: artifacts.AttestationManifestType, artifacts.AnnotationReferenceDigest: subject.Digest.String()},
	}
	if diff := cmp.Diff(wantDesc, add.Descriptor); diff != "" {
		t.Errorf("index entry (-want +got):\n%s", diff)
	}
	m, contents := layers(t, add.Add.(v1.Image))
	var got []string
	for _, l := range m.Layers {
		got = append(got, string(l.MediaType)+" "+l.Annotations[artifacts.AnnotationPredicateType])
	}
	if diff := cmp.Diff([]string{
		string(artifacts.MediaTypeInToto) + " " + artifacts.PredicateSLSAProvenance,
		string(artifacts.MediaTypeInToto) + " " + artifacts.PredicateSPDX,
	}, got); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	statement := func(predicateType string, predicate any) any {
		return map[string]any{
			"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicateType, "predicate": predicate,
			"subject": []any{map[string]any{"name": "team/app", "digest": map[string]any{"sha256": subject.Digest.Hex}}},
		}
	}
	want := []any{
		statement(artifacts.PredicateSLSAProvenance, map[string]any{"builder": map[string]any{"id": "b"}}),
		statement(artifacts.PredicateSPDX, map[string]any{"spdxVersion": "SPDX-2.3"}),
	}
	if diff := cmp.Diff(want, contents); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
}

func TestNewIsDeterministic(t *testing.T) {
	_, subject := subjectImage(t)
	spec := artifacts.Spec{ArtifactType: "application/spdx+json", Subject: &subject, LayerMediaType: "application/spdx+json",
		Content: []byte(`{}`), Annotations: map[string]string{"a": "b"}}
	var digests [2]v1.Hash
	for i := range digests {
		img, err := artifacts.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		if digests[i], err = img.Digest(); err != nil {
			t.Fatal(err)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("the same spec gave %s and %s", digests[0], digests[1])
	}
}
