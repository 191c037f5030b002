package manifests_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

func TestParseReference(t *testing.T) {
	const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in                                string
		registry, repository, tag, digest string
	}{
		{"nginx", manifests.DefaultRegistry, "nginx", "latest", ""},
		{"nginx:1.27", manifests.DefaultRegistry, "nginx", "1.27", ""},
		{"library/nginx", manifests.DefaultRegistry, "library/nginx", "latest", ""},
		{"docker.io/nginx", "index.docker.io", "nginx", "latest", ""},
		{"index.docker.io/library/nginx:1.27", "index.docker.io", "library/nginx", "1.27", ""},
		{"ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", ""},
		{"localhost:5000/x@sha256:" + hex64, "localhost:5000", "x", "", "sha256:" + hex64},
		{"127.0.0.1:5001/demo/hello:1.0", "127.0.0.1:5001", "demo/hello", "1.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o, err := manifests.ParseReference(tt.in, "")
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			got := [4]string{o.Registry, o.Repository, o.Tag, o.Digest}
			want := [4]string{tt.registry, tt.repository, tt.tag, tt.digest}
			if got != want {
				t.Errorf("ParseReference(%q) = [registry repository tag digest] %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestParseReferenceDefaultRegistry(t *testing.T) {
	o, err := manifests.ParseReference("demo/hello:1.0", "127.0.0.1:5001")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(manifests.Options{Registry: "127.0.0.1:5001", Repository: "demo/hello", Tag: "1.0"}, o); diff != "" {
		t.Errorf("ParseReference (-want +got):\n%s", diff)
	}
}

func TestParseReferenceErrors(t *testing.T) {
	for _, in := range []string{"http://x/y", "UPPER", "a:b:c"} {
		t.Run(in, func(t *testing.T) {
			o, err := manifests.ParseReference(in, "")
			if err == nil {
				t.Fatalf("ParseReference(%q) = %+v, want an error", in, o)
			}
			if !errors.Is(err, manifests.ErrInvalidReference) {
				t.Errorf("err = %v, want InvalidReference", err)
			}
			if msg := err.Error(); !strings.Contains(msg, in) || strings.Contains(msg, "\n") {
				t.Errorf("message should name %q on one line: %q", in, msg)
			}
		})
	}
}
