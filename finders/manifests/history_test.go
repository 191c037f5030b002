package manifests_test

import (
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

func TestDockerfileLine(t *testing.T) {
	tests := []struct{ createdBy, comment, want string }{
		{`/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]`, "", `CMD ["nginx" "-g" "daemon off;"]`},
		{"/bin/sh -c #(nop) ADD file:abc in / ", "", "ADD file:abc in /"},
		{"/bin/sh -c apt-get update && apt-get install -y curl", "", "RUN apt-get update && apt-get install -y curl"},
		{"RUN /bin/sh -c set -eux; apk add curl # buildkit", "", "RUN /bin/sh -c set -eux; apk add curl"},
		{"COPY docker-entrypoint.sh / # buildkit", "buildkit.dockerfile.v0", "COPY docker-entrypoint.sh /"},
		{"", "debuerreotype 0.15", "debuerreotype 0.15"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := manifests.DockerfileLine(tt.createdBy, tt.comment); got != tt.want {
			t.Errorf("DockerfileLine(%q, %q) = %q, want %q", tt.createdBy, tt.comment, got, tt.want)
		}
	}
}
