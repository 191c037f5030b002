package mediatype

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var (
	configDigest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	entryDigest  = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}
)

const (
	imageBody = `{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"sha256:` +
		"1111111111111111111111111111111111111111111111111111111111111111" + `","size":2},"layers":[]}`
	indexBody = `{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` +
		"2222222222222222222222222222222222222222222222222222222222222222" + `","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}`
)

func body(format string, args ...any) []byte { return []byte(fmt.Sprintf(format, args...)) }

// jsonError is the error encoding/json gives for b.
func jsonError(b string) string {
	var v any
	return json.Unmarshal([]byte(b), &v).Error()
}

func image(mt, configMT types.MediaType) *Document {
	return &Document{MediaType: mt, Manifest: &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     mt,
		Config:        v1.Descriptor{MediaType: configMT, Digest: configDigest, Size: 2},
		Layers:        []v1.Descriptor{},
	}}
}

func index(mt types.MediaType) *Document {
	return &Document{MediaType: mt, Index: &v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     mt,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1, Digest: entryDigest, Size: 3,
			Platform: &v1.Platform{OS: "linux", Architecture: "amd64"},
		}},
	}}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		want        *Document
		wantErr     *Error
	}{
		{
			name:        "OCI image manifest",
			body:        body(imageBody, string(types.OCIManifestSchema1), string(types.OCIConfigJSON)),
			contentType: string(types.OCIManifestSchema1),
			want:        image(types.OCIManifestSchema1, types.OCIConfigJSON),
		},
		{
			name:        "Docker schema 2 manifest",
			body:        body(imageBody, string(types.DockerManifestSchema2), string(types.DockerConfigJSON)),
			contentType: string(types.DockerManifestSchema2),
			want:        image(types.DockerManifestSchema2, types.DockerConfigJSON),
		},
		{
			name:        "OCI index",
			body:        body(indexBody, string(types.OCIImageIndex)),
			contentType: string(types.OCIImageIndex),
			want:        index(types.OCIImageIndex),
		},
		{
			name:        "Docker manifest list",
			body:        body(indexBody, string(types.DockerManifestList)),
			contentType: string(types.DockerManifestList),
			want:        index(types.DockerManifestList),
		},
		{
			name:        "generic Content-Type leaves the body to decide",
			body:        body(indexBody, string(types.OCIImageIndex)),
			contentType: "application/json; charset=utf-8",
			want:        index(types.OCIImageIndex),
		},
		{
			name:        "no mediaType: the Content-Type decides, parameters ignored",
			body:        []byte(`{"schemaVersion":2,"config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}`),
			contentType: string(types.DockerManifestSchema2) + "; charset=utf-8",
			want: &Document{MediaType: types.DockerManifestSchema2, Manifest: &v1.Manifest{
				SchemaVersion: 2, Config: v1.Descriptor{Digest: configDigest, Size: 2}, Layers: []v1.Descriptor{},
			}},
		},
		{
			name: "no media type at all, manifests field: an OCI index",
			body: []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}`),
			want: &Document{MediaType: types.OCIImageIndex, Index: &v1.IndexManifest{
				SchemaVersion: 2, Manifests: index("").Index.Manifests,
			}},
		},
		{
			name: "no media type at all, config field: an OCI image manifest",
			body: []byte(`{"schemaVersion":2,"config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}`),
			want: &Document{MediaType: types.OCIManifestSchema1, Manifest: &v1.Manifest{
				SchemaVersion: 2, Config: v1.Descriptor{Digest: configDigest, Size: 2}, Layers: []v1.Descriptor{},
			}},
		},
		{
			name:    "not JSON",
			body:    []byte("this is not JSON"),
			wantErr: &Error{Message: "not valid JSON: " + jsonError("this is not JSON")},
		},
		{
			name:        "schema 1 by schemaVersion",
			body:        []byte(`{"schemaVersion":1,"name":"r","tag":"t","fsLayers":[]}`),
			contentType: "application/json",
			wantErr:     &Error{Unsupported: true, Message: "unsupported: schema1 manifest; Docker schema 1 was retired, push the image again with a current client"},
		},
		{
			name:        "schema 1 signed by Content-Type",
			body:        []byte(`{"schemaVersion":1,"name":"r","tag":"t","fsLayers":[],"signatures":[]}`),
			contentType: string(types.DockerManifestSchema1Signed),
			wantErr:     &Error{Unsupported: true, Message: "unsupported: schema1 manifest; Docker schema 1 was retired, push the image again with a current client"},
		},
		{
			name:    "schemaVersion 3",
			body:    []byte(`{"schemaVersion":3,"config":{}}`),
			wantErr: &Error{Message: "schemaVersion is 3, want 2"},
		},
		{
			name:    "unknown media type with both manifests and config",
			body:    []byte(`{"schemaVersion":2,"mediaType":"application/x-thing","manifests":[],"config":{}}`),
			wantErr: &Error{Unsupported: true, Message: `unsupported: media type "application/x-thing" is neither an image manifest nor an index`},
		},
		{
			name:        "artifact: the config is not an image config",
			body:        body(imageBody, string(types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json"),
			contentType: string(types.OCIManifestSchema1),
			wantErr:     &Error{Unsupported: true, Message: `unsupported: config media type "application/vnd.cncf.helm.config.v1+json" is not an image config; this is an artifact, not an image`},
		},
		{
			name:    "image manifest without a config digest",
			body:    []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`),
			wantErr: &Error{Message: "invalid manifest: it has no config descriptor"},
		},
		{
			name:        "Content-Type names an index, the body an image",
			body:        body(imageBody, string(types.OCIManifestSchema1), string(types.OCIConfigJSON)),
			contentType: string(types.OCIImageIndex),
			wantErr:     &Error{Message: `the Content-Type "application/vnd.oci.image.index.v1+json" disagrees with the body (mediaType "application/vnd.oci.image.manifest.v1+json", schemaVersion 2)`},
		},
		{
			name:        "Content-Type says schema 1, the body is schema 2",
			body:        []byte(`{"schemaVersion":2,"config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}`),
			contentType: string(types.DockerManifestSchema1),
			wantErr:     &Error{Message: `the Content-Type "application/vnd.docker.distribution.manifest.v1+json" disagrees with the body (mediaType "", schemaVersion 2)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Classify(tt.body, tt.contentType)
			var gotErr *Error
			if err != nil {
				var ok bool
				if gotErr, ok = err.(*Error); !ok {
					t.Fatalf("error %T %v is not an *Error", err, err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, gotErr, cmpopts.IgnoreFields(Error{}, "Err")); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAcceptedAreClassified: every media type sent in Accept is one that
// Classify reads, as the kind of document it names.
func TestAcceptedAreClassified(t *testing.T) {
	if got, want := Accept(), strings.Join([]string{
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ","); got != want {
		t.Errorf("Accept() = %q, want %q", got, want)
	}
	for _, mt := range Accepted {
		var b []byte
		if mt.IsIndex() {
			b = body(indexBody, string(mt))
		} else {
			b = body(imageBody, string(mt), string(types.OCIConfigJSON))
		}
		d, err := Classify(b, string(mt))
		if err != nil {
			t.Errorf("%s: %v", mt, err)
			continue
		}
		if d.MediaType != mt || (d.Index != nil) != mt.IsIndex() {
			t.Errorf("%s: classified as %s (index %v)", mt, d.MediaType, d.Index != nil)
		}
	}
}
