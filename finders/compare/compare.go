// Package compare compares two resolved images and describes what changed: the
// digests, the config fields, the layers as an ordered list, and the declared
// base image. It is pure: it reads two finders results and makes no request.
package compare

import (
	"cmp"
	"slices"
	"strings"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// Change is what differs between two resolved images. Every field is nil when
// that part did not change, so the zero Change means "no difference".
// Its JSON field names are those of the ImageConfig status' lastChange.
type Change struct {
	// Digest is what the tag points to, before and after.
	Digest *StringChange `json:"digest,omitempty"`
	// ManifestDigest is the platform manifest's digest.
	ManifestDigest *StringChange `json:"manifestDigest,omitempty"`
	// ConfigDigest is the config blob's digest.
	ConfigDigest *StringChange `json:"configDigest,omitempty"`
	// Env compares the environment by variable name.
	Env *MapChange `json:"env,omitempty"`
	// Entrypoint is the entrypoint, before and after.
	Entrypoint *ListChange `json:"entrypoint,omitempty"`
	// Cmd is the default arguments, before and after.
	Cmd *ListChange `json:"cmd,omitempty"`
	// User is the user the container runs as.
	User *StringChange `json:"user,omitempty"`
	// WorkingDir is the working directory.
	WorkingDir *StringChange `json:"workingDir,omitempty"`
	// ExposedPorts lists the ports added and removed.
	ExposedPorts *SetChange `json:"exposedPorts,omitempty"`
	// Volumes lists the volumes added and removed.
	Volumes *SetChange `json:"volumes,omitempty"`
	// Labels compares the labels by key.
	Labels *MapChange `json:"labels,omitempty"`
	// StopSignal is the stop signal.
	StopSignal *StringChange `json:"stopSignal,omitempty"`
	// OS is the config's operating system.
	OS *StringChange `json:"os,omitempty"`
	// Architecture is the config's CPU architecture.
	Architecture *StringChange `json:"architecture,omitempty"`
	// Variant is the config's CPU variant.
	Variant *StringChange `json:"variant,omitempty"`
	// Layers compares the layers by diffID, as ordered lists.
	Layers *LayerChange `json:"layers,omitempty"`
	// BaseImage is the declared base image, before and after.
	BaseImage *BaseImageChange `json:"baseImage,omitempty"`
}

// StringChange is a value before and after.
type StringChange struct {
	// Before is the old value.
	Before string `json:"before,omitempty"`
	// After is the new value.
	After string `json:"after,omitempty"`
}

// ListChange is an ordered list before and after.
type ListChange struct {
	// Before is the old list.
	Before []string `json:"before,omitempty"`
	// After is the new list.
	After []string `json:"after,omitempty"`
}

// SetChange lists what was added to and removed from a set, each sorted.
type SetChange struct {
	// Added are the new members.
	Added []string `json:"added,omitempty"`
	// Removed are the members that went away.
	Removed []string `json:"removed,omitempty"`
}

// MapChange compares NAME=value pairs by name, each list sorted by name.
type MapChange struct {
	// Added are the new names with their values.
	Added []KeyValue `json:"added,omitempty"`
	// Removed are the names that went away, with their old values.
	Removed []KeyValue `json:"removed,omitempty"`
	// Changed are the names whose value changed.
	Changed []KeyChange `json:"changed,omitempty"`
}

// KeyValue is one name and its value.
type KeyValue struct {
	// Key is the variable name or label key.
	Key string `json:"key"`
	// Value is its value.
	Value string `json:"value,omitempty"`
}

// KeyChange is one name whose value changed.
type KeyChange struct {
	// Key is the variable name or label key.
	Key string `json:"key"`
	// Before is the old value.
	Before string `json:"before,omitempty"`
	// After is the new value.
	After string `json:"after,omitempty"`
}

// The kinds of layer change, so that a rebuilt base and a new tail on the same
// base are told apart at a glance.
const (
	// LayersAppended: every old layer was kept and new ones were added on top.
	LayersAppended = "Appended"
	// LayersTrimmed: layers were removed from the top and none added.
	LayersTrimmed = "Trimmed"
	// LayersTailReplaced: a common prefix was kept and the layers above it were
	// replaced: the same base with a new tail.
	LayersTailReplaced = "TailReplaced"
	// LayersRebuilt: not even the first layer was kept: the base was rebuilt or replaced.
	LayersRebuilt = "Rebuilt"
)

// LayerChange compares the layers by diffID (by digest when a diffID is unknown) and size.
type LayerChange struct {
	// Kind is Appended, Trimmed, TailReplaced or Rebuilt.
	Kind string `json:"kind"`
	// KeptCount is the length of the common prefix of layers.
	KeptCount int32 `json:"keptCount"`
	// KeptSize is the compressed size of the common prefix, in bytes.
	KeptSize int64 `json:"keptSize"`
	// Removed are the old layers after the common prefix.
	Removed []LayerRef `json:"removed,omitempty"`
	// Added are the new layers after the common prefix.
	Added []LayerRef `json:"added,omitempty"`
	// SizeChange is the net change of the total compressed size, in bytes.
	SizeChange int64 `json:"sizeChange"`
}

// LayerRef is one layer in a LayerChange.
type LayerRef struct {
	// DiffID is the digest of the uncompressed layer.
	DiffID string `json:"diffID,omitempty"`
	// Digest is the digest of the compressed layer.
	Digest string `json:"digest,omitempty"`
	// Size is the compressed size in bytes.
	Size int64 `json:"size,omitempty"`
	// CreatedBy is the instruction that created the layer.
	CreatedBy string `json:"createdBy,omitempty"`
}

// BaseImageChange is the declared base image before and after; nil when none was declared.
type BaseImageChange struct {
	// Before is the old base image.
	Before *manifests.BaseImage `json:"before,omitempty"`
	// After is the new base image.
	After *manifests.BaseImage `json:"after,omitempty"`
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool { return c == Change{} }

// Compare describes what changed from before to after. Nil counts as an image
// with nothing resolved.
func Compare(before, after *manifests.Result) Change {
	var a, b manifests.Summary
	if before != nil {
		a = before.Summary
	}
	if after != nil {
		b = after.Summary
	}
	ca, cb := a.Config, b.Config
	if ca == nil {
		ca = &manifests.BuildConfig{}
	}
	if cb == nil {
		cb = &manifests.BuildConfig{}
	}
	return Change{
		Digest:         str(a.Digest, b.Digest),
		ManifestDigest: str(a.ManifestDigest, b.ManifestDigest),
		ConfigDigest:   str(a.ConfigDigest, b.ConfigDigest),
		Env:            mapChange(envMap(ca.Env), envMap(cb.Env)),
		Entrypoint:     list(ca.Entrypoint, cb.Entrypoint),
		Cmd:            list(ca.Cmd, cb.Cmd),
		User:           str(ca.User, cb.User),
		WorkingDir:     str(ca.WorkingDir, cb.WorkingDir),
		ExposedPorts:   set(ca.ExposedPorts, cb.ExposedPorts),
		Volumes:        set(ca.Volumes, cb.Volumes),
		Labels:         mapChange(ca.Labels, cb.Labels),
		StopSignal:     str(ca.StopSignal, cb.StopSignal),
		OS:             str(ca.OS, cb.OS),
		Architecture:   str(ca.Architecture, cb.Architecture),
		Variant:        str(ca.Variant, cb.Variant),
		Layers:         layers(a.Layers, b.Layers),
		BaseImage:      base(a.BaseImage, b.BaseImage),
	}
}

func str(a, b string) *StringChange {
	if a == b {
		return nil
	}
	return &StringChange{Before: a, After: b}
}

func list(a, b []string) *ListChange {
	if slices.Equal(a, b) {
		return nil
	}
	return &ListChange{Before: slices.Clone(a), After: slices.Clone(b)}
}

func set(a, b []string) *SetChange {
	in := func(s []string) map[string]bool {
		m := make(map[string]bool, len(s))
		for _, v := range s {
			m[v] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var c SetChange
	for v := range mb {
		if !ma[v] {
			c.Added = append(c.Added, v)
		}
	}
	for v := range ma {
		if !mb[v] {
			c.Removed = append(c.Removed, v)
		}
	}
	if c.Added == nil && c.Removed == nil {
		return nil
	}
	slices.Sort(c.Added)
	slices.Sort(c.Removed)
	return &c
}

// envMap reads NAME=value lines; a later line for the same name wins, as in a
// container's environment. A line without "=" is a name with an empty value.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func mapChange(a, b map[string]string) *MapChange {
	var c MapChange
	for k, vb := range b {
		va, ok := a[k]
		switch {
		case !ok:
			c.Added = append(c.Added, KeyValue{Key: k, Value: vb})
		case va != vb:
			c.Changed = append(c.Changed, KeyChange{Key: k, Before: va, After: vb})
		}
	}
	for k, va := range a {
		if _, ok := b[k]; !ok {
			c.Removed = append(c.Removed, KeyValue{Key: k, Value: va})
		}
	}
	if c.Added == nil && c.Removed == nil && c.Changed == nil {
		return nil
	}
	byKey := func(x, y KeyValue) int { return cmp.Compare(x.Key, y.Key) }
	slices.SortFunc(c.Added, byKey)
	slices.SortFunc(c.Removed, byKey)
	slices.SortFunc(c.Changed, func(x, y KeyChange) int { return cmp.Compare(x.Key, y.Key) })
	return &c
}

// sameLayer reports whether two layers are the same: the same diffID (digest when
// a diffID is unknown) and the same compressed size, so that the kept prefix has
// one size whichever side it is counted on.
func sameLayer(a, b manifests.Layer) bool {
	id := func(l manifests.Layer) string {
		if l.DiffID != "" {
			return l.DiffID
		}
		return l.Digest
	}
	return id(a) == id(b) && a.Size == b.Size
}

func layers(a, b []manifests.Layer) *LayerChange {
	kept := 0
	for kept < len(a) && kept < len(b) && sameLayer(a[kept], b[kept]) {
		kept++
	}
	if kept == len(a) && kept == len(b) {
		return nil
	}
	c := &LayerChange{KeptCount: int32(kept)}
	for _, l := range a[:kept] {
		c.KeptSize += l.Size
	}
	ref := func(l manifests.Layer) LayerRef {
		return LayerRef{DiffID: l.DiffID, Digest: l.Digest, Size: l.Size, CreatedBy: l.CreatedBy}
	}
	for _, l := range a[kept:] {
		c.Removed = append(c.Removed, ref(l))
		c.SizeChange -= l.Size
	}
	for _, l := range b[kept:] {
		c.Added = append(c.Added, ref(l))
		c.SizeChange += l.Size
	}
	switch {
	case kept == len(a):
		c.Kind = LayersAppended
	case kept == len(b):
		c.Kind = LayersTrimmed
	case kept == 0:
		c.Kind = LayersRebuilt
	default:
		c.Kind = LayersTailReplaced
	}
	return c
}

func base(a, b *manifests.BaseImage) *BaseImageChange {
	var za, zb manifests.BaseImage
	if a != nil {
		za = *a
	}
	if b != nil {
		zb = *b
	}
	if za == zb {
		return nil
	}
	return &BaseImageChange{Before: clone(a), After: clone(b)}
}

func clone(b *manifests.BaseImage) *manifests.BaseImage {
	if b == nil || *b == (manifests.BaseImage{}) {
		return nil
	}
	v := *b
	return &v
}
