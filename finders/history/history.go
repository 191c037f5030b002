// Package history reads an image config's build history: it pairs each history
// entry with the layer it created (empty-layer steps such as ENV or CMD create
// none) and renders createdBy as the Dockerfile line it came from. It is pure:
// it reads a config blob and the manifest's layers and makes no request.
package history

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DockerfileLine renders a history entry's createdBy as the Dockerfile
// instruction it came from, as registry explorers do: "/bin/sh -c #(nop) " is
// stripped (ENV, LABEL, CMD… of the classic builder), "/bin/sh -c " becomes
// "RUN ", and BuildKit's trailing " # buildkit" is dropped. An empty createdBy
// falls back to the comment.
func DockerfileLine(createdBy, comment string) string {
	s := strings.TrimSpace(createdBy)
	if s == "" {
		return strings.TrimSpace(comment)
	}
	s = strings.TrimSuffix(s, " # buildkit")
	switch {
	case strings.HasPrefix(s, "/bin/sh -c #(nop) "):
		s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	case strings.HasPrefix(s, "/bin/sh -c "):
		s = "RUN " + strings.TrimPrefix(s, "/bin/sh -c ")
	}
	return strings.TrimSpace(s)
}

// Step is one entry of an image's build history, joined to the layer it created.
type Step struct {
	// Layer is the index of the layer the step created, or -1 for an empty-layer
	// step (ENV, LABEL, CMD…) or when history and layers do not pair.
	Layer int `json:"layer"`
	// Size is the compressed size of the step's layer; zero for an empty-layer step.
	Size int64 `json:"size,omitempty"`
	// DiffID is the step's layer's diffID.
	DiffID string `json:"diffID,omitempty"`
	// Digest is the step's layer's digest.
	Digest string `json:"digest,omitempty"`
	// EmptyLayer marks a step that created no layer.
	EmptyLayer bool `json:"emptyLayer,omitempty"`
	// Created is when the step ran.
	Created *time.Time `json:"created,omitempty"`
	// CreatedBy is the step's instruction as the history records it.
	CreatedBy string `json:"createdBy,omitempty"`
	// Comment is the history entry's comment.
	Comment string `json:"comment,omitempty"`
	// Instruction is CreatedBy rendered by DockerfileLine.
	Instruction string `json:"instruction,omitempty"`
}

// Layer is what History needs of a manifest's layer.
type Layer struct {
	// Digest is the digest of the compressed layer blob.
	Digest string
	// DiffID is the digest of the uncompressed layer.
	DiffID string
	// Size is the size of the compressed layer in bytes.
	Size int64
}

// History lists an image's build steps in order, empty-layer steps included,
// from its config blob and summarised layers. The layer index advances only on
// steps that created a layer. When the history does not pair with the layers
// (LayerHistoryNote), the layers are listed without history.
func History(rawConfig []byte, layers []Layer) ([]Step, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("parsing the config blob: %w", err)
	}
	created := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			created++
		}
	}
	if created != len(layers) {
		steps := make([]Step, len(layers))
		for i, l := range layers {
			steps[i] = Step{Layer: i, Size: l.Size, DiffID: l.DiffID, Digest: l.Digest}
		}
		return steps, nil
	}
	steps := make([]Step, 0, len(cfg.History))
	li := 0
	for _, h := range cfg.History {
		s := Step{
			Layer:       -1,
			EmptyLayer:  h.EmptyLayer,
			Created:     timePtr(h.Created.Time),
			CreatedBy:   h.CreatedBy,
			Comment:     h.Comment,
			Instruction: DockerfileLine(h.CreatedBy, h.Comment),
		}
		if !h.EmptyLayer {
			l := layers[li]
			s.Layer, s.Size, s.DiffID, s.Digest = li, l.Size, l.DiffID, l.Digest
			li++
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
