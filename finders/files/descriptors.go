package files

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Descriptors pairs a platform manifest's layers with the config's diffIDs
// and the eStargz TOC digest annotations, in manifest order.
func Descriptors(rawManifest, rawConfig []byte) ([]Descriptor, error) {
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("parsing the manifest: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("parsing the config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("the manifest has %d layers and the config %d diffIDs", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	ds := make([]Descriptor, len(m.Layers))
	for i, l := range m.Layers {
		ds[i] = Descriptor{
			Digest:    l.Digest.String(),
			DiffID:    cf.RootFS.DiffIDs[i].String(),
			MediaType: string(l.MediaType),
			Size:      l.Size,
			TOCDigest: l.Annotations[TOCDigestAnnotation],
		}
	}
	return ds, nil
}
