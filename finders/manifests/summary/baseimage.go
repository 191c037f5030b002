package summary

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The OCI annotations that name the image an image was built on.
const (
	// BaseNameAnnotation is the base image's reference.
	BaseNameAnnotation = "org.opencontainers.image.base.name"
	// BaseDigestAnnotation is the base image's digest.
	BaseDigestAnnotation = "org.opencontainers.image.base.digest"
)

// Base reads the declared base image: from the platform manifest's
// annotations (where docker-library and buildah put them), else from the index
// entry's annotations, else from config labels of the same names. Both values
// come from the first of these that has either, so a name and a digest from two
// places are never paired. Nil when none declares one: the base is never guessed.
//
// Which of the image's layers come from the base is not marked: that needs the
// base's own layer list, another fetch.
func Base(m *v1.Manifest, entry *v1.Descriptor, cfg *v1.ConfigFile) *BaseImage {
	sources := make([]map[string]string, 0, 3)
	if m != nil {
		sources = append(sources, m.Annotations)
	}
	if entry != nil {
		sources = append(sources, entry.Annotations)
	}
	if cfg != nil {
		sources = append(sources, cfg.Config.Labels)
	}
	for _, s := range sources {
		b := BaseImage{Name: s[BaseNameAnnotation], Digest: s[BaseDigestAnnotation]}
		if b != (BaseImage{}) {
			return &b
		}
	}
	return nil
}
