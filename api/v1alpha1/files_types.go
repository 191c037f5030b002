package v1alpha1

// FilesSpec asks the controller for the layer file index of the resolved image.
type FilesSpec struct {
	// index, when true, indexes the files of the resolved platform's layers once
	// per new manifest digest: each layer blob is streamed once (or listed from its
	// eStargz table of contents) and only tar headers are read. status.files then
	// holds a bounded summary (changeset counts per layer, findings counted by kind
	// with a few examples); the full tree is in the manager's web UI. Indexing
	// never changes Ready: its outcome is the FilesIndexed condition.
	// +kubebuilder:default=false
	// +optional
	Index bool `json:"index,omitempty"`
}

// FilesStatus is a bounded summary of the layer file index of status.manifestDigest.
// It never lists files: the manager's web UI shows the tree, the changesets and
// every finding.
type FilesStatus struct {
	// manifestDigest is the platform manifest whose layers were indexed. When it
	// differs from status.manifestDigest, the summary is of an earlier image.
	// +kubebuilder:validation:MaxLength=135
	// +required
	ManifestDigest string `json:"manifestDigest"`

	// layers summarise each layer's changeset, in manifest order.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Layers []FilesLayer `json:"layers,omitempty"`

	// fileCount is the number of paths of the merged tree: what a container sees.
	// +optional
	FileCount int64 `json:"fileCount,omitempty"`

	// wastedBytes is the sum of the layers' bytes that no path of the merged tree shows.
	// +optional
	WastedBytes int64 `json:"wastedBytes,omitempty"`

	// findings count the findings by kind; kinds with none are left out.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Findings []FindingCount `json:"findings,omitempty"`

	// examples are at most 20 findings, taken from every kind in turn, most
	// telling kinds first (deletedButPresent, setuid, setgid, worldWritable,
	// escapesRoot, overwritten, wastedBytes).
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Examples []FileFinding `json:"examples,omitempty"`

	// truncated is true when the summary leaves something out: findings beyond the
	// examples, layers beyond 256, or example paths cut to 512 bytes.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// FilesLayer is one layer's changeset counts.
type FilesLayer struct {
	// index is the layer's 0-based index, in manifest order.
	// +kubebuilder:validation:Minimum=0
	// +required
	Index int32 `json:"index"`

	// digest is the layer blob's digest.
	// +kubebuilder:validation:MaxLength=135
	// +optional
	Digest string `json:"digest,omitempty"`

	// added counts the paths the layer adds.
	// +optional
	Added int64 `json:"added"`

	// modified counts the paths the layer replaces.
	// +optional
	Modified int64 `json:"modified"`

	// deleted counts the paths the layer deletes (whiteouts, opaque directories,
	// paths replaced by a non-directory).
	// +optional
	Deleted int64 `json:"deleted"`

	// wastedBytes are the bytes of the layer's files that the merged tree does not show.
	// +optional
	WastedBytes int64 `json:"wastedBytes"`
}

// FindingCount is how many findings of one kind the index has.
type FindingCount struct {
	// kind is the finding's kind.
	// +kubebuilder:validation:Enum=setuid;setgid;worldWritable;deletedButPresent;overwritten;wastedBytes;escapesRoot
	// +required
	Kind string `json:"kind"`

	// count is the number of findings of that kind.
	// +required
	Count int64 `json:"count"`
}

// FileFinding is one finding of the layer file index.
type FileFinding struct {
	// kind is the finding's kind: setuid and setgid files, worldWritable files and
	// directories without the sticky bit, deletedButPresent (a file a later layer
	// deletes while its bytes still ship), overwritten (a file a later layer
	// replaces), wastedBytes (a layer's hidden bytes), escapesRoot (a name that
	// would leave the root, kept as data).
	// +kubebuilder:validation:Enum=setuid;setgid;worldWritable;deletedButPresent;overwritten;wastedBytes;escapesRoot
	// +required
	Kind string `json:"kind"`

	// path is the file concerned, cut to 512 bytes; empty for wastedBytes.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Path string `json:"path,omitempty"`

	// layer is the 0-based index of the layer that wrote the file (or whose bytes are wasted).
	// +kubebuilder:validation:Minimum=0
	// +required
	Layer int32 `json:"layer"`

	// bytes is the file's size, or the wasted bytes.
	// +optional
	Bytes int64 `json:"bytes"`
}

// Condition type and reasons of spec.files. Indexing never changes Ready.
const (
	// FilesIndexedCondition is True when status.files summarises the index of status.manifestDigest.
	FilesIndexedCondition string = "FilesIndexed"

	// FilesIndexedReason means the layers of status.manifestDigest were indexed.
	FilesIndexedReason string = "Indexed"

	// FilesIndexingReason means the layers of status.manifestDigest are being indexed.
	FilesIndexingReason string = "Indexing"

	// LayerDigestMismatchReason means a layer blob or its uncompressed tar did not match
	// the digest the manifest or the config declares; it is not retried for that digest.
	LayerDigestMismatchReason string = "LayerDigestMismatch"

	// LayerLimitExceededReason means a layer is over the manager's --files-max-layer-size,
	// or holds too many entries or too long a path; it is not retried for that digest.
	LayerLimitExceededReason string = "LayerLimitExceeded"

	// InvalidLayerReason means a layer is not a valid (gzip or zstd compressed) tar;
	// it is not retried for that digest.
	InvalidLayerReason string = "InvalidLayer"

	// FilesIndexFailedReason means indexing failed in another way (the cache, the
	// manager's set-up); the registry's own failures carry its reasons (Unavailable,
	// RateLimited, NotFound, Unauthorized). Failures are tried again at the next
	// re-check, or at once after a change to the object.
	FilesIndexFailedReason string = "FilesIndexFailed"
)
