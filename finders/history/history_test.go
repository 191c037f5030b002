package history_test

import (
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/history"
)

func TestDockerfileLine(t *testing.T) {
	tests := []struct {
		name, createdBy, comment, want string
	}{
		{"classic builder metadata step", `/bin/sh -c #(nop)  ENV NGINX_VERSION=1.27.3`, "", "ENV NGINX_VERSION=1.27.3"},
		{"classic builder RUN", "/bin/sh -c apt-get update && apt-get install -y curl", "", "RUN apt-get update && apt-get install -y curl"},
		{"buildkit RUN", "RUN /bin/sh -c set -eux; make install # buildkit", "buildkit.dockerfile.v0", "RUN /bin/sh -c set -eux; make install"},
		{"buildkit metadata", "ENV PATH=/usr/local/bin", "buildkit.dockerfile.v0", "ENV PATH=/usr/local/bin"},
		{"ADD of the base", "/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007 in / ", "", "ADD file:4b03b5f551e3fbdf47ec609712007 in /"},
		{"empty falls back to the comment", "", "imported from tarball", "imported from tarball"},
		{"both empty", "", "", ""},
		{"other shells kept as they are", "|2 A=1 B=2 /bin/bash -c make", "", "|2 A=1 B=2 /bin/bash -c make"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := history.DockerfileLine(tt.createdBy, tt.comment); got != tt.want {
				t.Errorf("DockerfileLine(%q, %q) = %q, want %q", tt.createdBy, tt.comment, got, tt.want)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	cfg := func(h ...v1.History) []byte {
		b, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", History: h})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layers := []history.Layer{{Digest: "sha256:a", DiffID: "sha256:da", Size: 100}, {Digest: "sha256:b", DiffID: "sha256:db", Size: 20}}
	tests := []struct {
		name   string
		config []byte
		want   []history.Step
	}{
		{
			name: "empty-layer steps are kept and do not advance the layer index",
			config: cfg(
				v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:x in / "},
				v1.History{CreatedBy: "/bin/sh -c #(nop)  ENV A=1", EmptyLayer: true},
				v1.History{CreatedBy: "/bin/sh -c make"},
				v1.History{CreatedBy: `/bin/sh -c #(nop)  CMD ["app"]`, EmptyLayer: true},
			),
			want: []history.Step{
				{Layer: 0, Size: 100, DiffID: "sha256:da", Digest: "sha256:a", CreatedBy: "/bin/sh -c #(nop) ADD file:x in / ", Instruction: "ADD file:x in /"},
				{Layer: -1, EmptyLayer: true, CreatedBy: "/bin/sh -c #(nop)  ENV A=1", Instruction: "ENV A=1"},
				{Layer: 1, Size: 20, DiffID: "sha256:db", Digest: "sha256:b", CreatedBy: "/bin/sh -c make", Instruction: "RUN make"},
				{Layer: -1, EmptyLayer: true, CreatedBy: `/bin/sh -c #(nop)  CMD ["app"]`, Instruction: `CMD ["app"]`},
			},
		},
		{
			name:   "history that does not pair lists the layers alone",
			config: cfg(v1.History{CreatedBy: "RUN one"}),
			want: []history.Step{
				{Layer: 0, Size: 100, DiffID: "sha256:da", Digest: "sha256:a"},
				{Layer: 1, Size: 20, DiffID: "sha256:db", Digest: "sha256:b"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := history.History(tt.config, layers)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tt.want)
			if string(a) != string(b) {
				t.Errorf("History =\n%s\nwant\n%s", a, b)
			}
		})
	}
	if _, err := history.History([]byte("{"), layers); err == nil {
		t.Error("History of a truncated config: no error")
	}
}
