// Package summary reads an image's manifest, index entry and config into the
// Summary that every surface shows (the status, the CLI, the pages): the
// build config, the layers joined to the history entries that created them,
// the index entries, and the declared base image. It makes no request and
// never fails on odd content: what does not pair is left empty and explained.
package summary

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// The annotation that marks an index entry as an attestation (BuildKit's).
const (
	// AttestationTypeAnnotation is the annotation key.
	AttestationTypeAnnotation = "vnd.docker.reference.type"
	// AttestationManifest is its value on an attestation manifest.
	AttestationManifest = "attestation-manifest"
)

// IndexEntries lists every entry of the index for the status, and the view of
// each entry that platform selection needs.
func IndexEntries(idx *v1.IndexManifest) ([]IndexEntry, []platforms.Entry) {
	entries := make([]IndexEntry, len(idx.Manifests))
	selectable := make([]platforms.Entry, len(idx.Manifests))
	for i, d := range idx.Manifests {
		p := EntryPlatform(d)
		entries[i] = IndexEntry{
			OS:           p.OS,
			Architecture: p.Architecture,
			Variant:      p.Variant,
			OSVersion:    p.OSVersion,
			Digest:       d.Digest.String(),
			Size:         d.Size,
			MediaType:    string(d.MediaType),
			Attestation:  d.Annotations[AttestationTypeAnnotation] == AttestationManifest,
		}
		selectable[i] = platforms.Entry{
			Platform:    p,
			HasPlatform: d.Platform != nil,
			MediaType:   string(d.MediaType),
			Annotations: d.Annotations,
		}
	}
	return entries, selectable
}

// EntryPlatform is the platform an index entry declares; zero when it declares none.
func EntryPlatform(d v1.Descriptor) platforms.Platform {
	if d.Platform == nil {
		return platforms.Platform{}
	}
	return platforms.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant, OSVersion: d.Platform.OSVersion}
}

// ConfigPlatform is the platform a config blob says the image is built for.
func ConfigPlatform(cfg *v1.ConfigFile) platforms.Platform {
	return platforms.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
}

// DescribePlatform renders a platform for messages, with its OS version when it has one.
func DescribePlatform(p platforms.Platform) string {
	s := p.String()
	if p.OSVersion != "" {
		s += " (os.version " + p.OSVersion + ")"
	}
	return s
}

// ParseConfig parses a config blob. It is strict only where the summary needs it.
func ParseConfig(raw []byte) (*v1.ConfigFile, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Fill fills the config and layer parts of s from a manifest and its config.
// It never fails: when the config's history does not pair with the manifest's
// layers, every layer is kept, createdBy is left empty, and LayerHistoryNote says why.
func Fill(s *Summary, m *v1.Manifest, cfg *v1.ConfigFile) {
	c := cfg.Config
	bc := &BuildConfig{
		Created:      timePtr(cfg.Created.Time),
		Author:       cfg.Author,
		OS:           cfg.OS,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		OSVersion:    cfg.OSVersion,
		User:         c.User,
		Env:          c.Env,
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		WorkingDir:   c.WorkingDir,
		ExposedPorts: sortedKeys(c.ExposedPorts),
		Volumes:      sortedKeys(c.Volumes),
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
	}
	s.Config = bc

	layers := make([]Layer, len(m.Layers))
	var total int64
	for i, d := range m.Layers {
		layers[i] = Layer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size}
		total += d.Size
	}

	var notes []string
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) == len(layers) {
		for i := range layers {
			layers[i].DiffID = diffIDs[i].String()
		}
	} else {
		notes = append(notes, fmt.Sprintf("config rootfs has %d diff_ids but the manifest has %d layers, so diffID is left empty", len(diffIDs), len(layers)))
	}

	var created []v1.History
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			created = append(created, h)
		}
	}
	if len(created) == len(layers) {
		for i, h := range created {
			layers[i].Created = timePtr(h.Created.Time)
			layers[i].CreatedBy = h.CreatedBy
			layers[i].Comment = h.Comment
		}
	} else {
		notes = append(notes, fmt.Sprintf("config history has %d entries that create layers but the manifest has %d layers, so createdBy is left empty", len(created), len(layers)))
	}

	s.Layers = layers
	s.LayerCount = int32(len(layers))
	s.TotalSize = total
	s.LayerHistoryNote = strings.Join(notes, "; ")
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func sortedKeys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
