package manifests

import (
	"github.com/imageconfig/imageconfig-operator/finders/history"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

// Step is one build-history step (history.Step).
type Step = history.Step

// DockerfileLine renders a history entry's createdBy as the Dockerfile line it
// came from (history.DockerfileLine).
func DockerfileLine(createdBy, comment string) string {
	return history.DockerfileLine(createdBy, comment)
}

// History lists an image's build steps in order, empty-layer steps included,
// from its config blob and summarised layers (history.History).
func History(rawConfig []byte, layers []Layer) ([]Step, error) {
	in := make([]history.Layer, len(layers))
	for i, l := range layers {
		in[i] = history.Layer{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size}
	}
	return history.History(rawConfig, in)
}

// FormatSize is format.Size (binary units), kept for callers of this package.
func FormatSize(n int64) string { return format.Size(n) }
