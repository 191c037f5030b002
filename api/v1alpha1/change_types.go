package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BaseImage names the image an image was built on.
type BaseImage struct {
	// name is the base image's reference, such as "docker.io/library/debian:bookworm-slim".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Name string `json:"name,omitempty"`

	// digest is the base image's manifest or index digest.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Digest string `json:"digest,omitempty"`
}

// ImageChange reports what changed when a re-check found that the tag had moved.
type ImageChange struct {
	// from is the digest the tag pointed to before.
	// +kubebuilder:validation:MaxLength=256
	// +required
	From string `json:"from"`

	// to is the digest the tag points to now.
	// +kubebuilder:validation:MaxLength=256
	// +required
	To string `json:"to"`

	// time is when the move was found.
	// +required
	Time metav1.Time `json:"time"`

	// summary is the change in one line, as in the DigestChanged event.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Summary string `json:"summary,omitempty"`

	// change is the structured comparison of the image before and after.
	// +optional
	Change *ImageChangeDetails `json:"change,omitempty"`

	// truncated says which lists or values of change were shortened to bound the
	// object's size. It is empty when nothing was.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Truncated string `json:"truncated,omitempty"`
}

// ImageChangeDetails is what differs between two resolutions; a field is absent
// when that part did not change.
type ImageChangeDetails struct {
	// digest is what the tag points to, before and after.
	// +optional
	Digest *StringChange `json:"digest,omitempty"`
	// manifestDigest is the platform manifest's digest, before and after.
	// +optional
	ManifestDigest *StringChange `json:"manifestDigest,omitempty"`
	// configDigest is the config blob's digest, before and after.
	// +optional
	ConfigDigest *StringChange `json:"configDigest,omitempty"`
	// env compares the environment by variable name.
	// +optional
	Env *MapChange `json:"env,omitempty"`
	// entrypoint is the entrypoint, before and after.
	// +optional
	Entrypoint *ListChange `json:"entrypoint,omitempty"`
	// cmd is the default arguments, before and after.
	// +optional
	Cmd *ListChange `json:"cmd,omitempty"`
	// user is the user the container runs as, before and after.
	// +optional
	User *StringChange `json:"user,omitempty"`
	// workingDir is the working directory, before and after.
	// +optional
	WorkingDir *StringChange `json:"workingDir,omitempty"`
	// exposedPorts lists the ports added and removed.
	// +optional
	ExposedPorts *SetChange `json:"exposedPorts,omitempty"`
	// volumes lists the volumes added and removed.
	// +optional
	Volumes *SetChange `json:"volumes,omitempty"`
	// labels compares the labels by key.
	// +optional
	Labels *MapChange `json:"labels,omitempty"`
	// stopSignal is the stop signal, before and after.
	// +optional
	StopSignal *StringChange `json:"stopSignal,omitempty"`
	// os is the config's operating system, before and after.
	// +optional
	OS *StringChange `json:"os,omitempty"`
	// architecture is the config's CPU architecture, before and after.
	// +optional
	Architecture *StringChange `json:"architecture,omitempty"`
	// variant is the config's CPU variant, before and after.
	// +optional
	Variant *StringChange `json:"variant,omitempty"`
	// layers compares the layers by diffID as ordered lists.
	// +optional
	Layers *LayerChange `json:"layers,omitempty"`
	// baseImage is the declared base image, before and after.
	// +optional
	BaseImage *BaseImageChange `json:"baseImage,omitempty"`
}

// StringChange is a value before and after.
type StringChange struct {
	// before is the old value.
	// +optional
	Before string `json:"before,omitempty"`
	// after is the new value.
	// +optional
	After string `json:"after,omitempty"`
}

// ListChange is an ordered list before and after.
type ListChange struct {
	// before is the old list.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Before []string `json:"before,omitempty"`
	// after is the new list.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	After []string `json:"after,omitempty"`
}

// SetChange lists what was added to and removed from a set.
type SetChange struct {
	// added are the new members, sorted.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Added []string `json:"added,omitempty"`
	// removed are the members that went away, sorted.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Removed []string `json:"removed,omitempty"`
}

// MapChange compares name=value pairs by name.
type MapChange struct {
	// added are the new names with their values, sorted by name.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Added []KeyValue `json:"added,omitempty"`
	// removed are the names that went away, with their old values, sorted by name.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Removed []KeyValue `json:"removed,omitempty"`
	// changed are the names whose value changed, sorted by name.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Changed []KeyChange `json:"changed,omitempty"`
}

// KeyValue is one name and its value.
type KeyValue struct {
	// key is the variable name or label key.
	// +required
	Key string `json:"key"`
	// value is its value.
	// +optional
	Value string `json:"value,omitempty"`
}

// KeyChange is one name whose value changed.
type KeyChange struct {
	// key is the variable name or label key.
	// +required
	Key string `json:"key"`
	// before is the old value.
	// +optional
	Before string `json:"before,omitempty"`
	// after is the new value.
	// +optional
	After string `json:"after,omitempty"`
}

// LayerChange compares layers by diffID as ordered lists: a kept common prefix,
// then the layers removed and added above it.
type LayerChange struct {
	// kind is Appended (old layers kept, new ones on top), Trimmed (layers removed
	// from the top), TailReplaced (the same base with a new tail) or Rebuilt (not
	// even the first layer was kept: the base was rebuilt or replaced).
	// +kubebuilder:validation:Enum=Appended;Trimmed;TailReplaced;Rebuilt
	// +required
	Kind string `json:"kind"`
	// keptCount is the number of layers of the common prefix.
	// +required
	KeptCount int32 `json:"keptCount"`
	// keptSize is the compressed size of the common prefix, in bytes.
	// +required
	KeptSize int64 `json:"keptSize"`
	// removed are the old layers above the common prefix.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Removed []LayerRef `json:"removed,omitempty"`
	// added are the new layers above the common prefix.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Added []LayerRef `json:"added,omitempty"`
	// sizeChange is the net change of the total compressed size, in bytes.
	// +required
	SizeChange int64 `json:"sizeChange"`
}

// LayerRef is one layer of a LayerChange.
type LayerRef struct {
	// diffID is the digest of the uncompressed layer.
	// +optional
	DiffID string `json:"diffID,omitempty"`
	// digest is the digest of the compressed layer.
	// +optional
	Digest string `json:"digest,omitempty"`
	// size is the compressed size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// createdBy is the instruction that created the layer.
	// +optional
	CreatedBy string `json:"createdBy,omitempty"`
}

// BaseImageChange is the declared base image before and after.
type BaseImageChange struct {
	// before is the old base image; absent when none was declared.
	// +optional
	Before *BaseImage `json:"before,omitempty"`
	// after is the new base image; absent when none is declared.
	// +optional
	After *BaseImage `json:"after,omitempty"`
}
