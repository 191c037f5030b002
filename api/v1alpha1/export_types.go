package v1alpha1

// ExportSpec names the ConfigMap that receives the resolved bytes: config.json (the
// config blob), manifest.json (the platform manifest) and index.json (the index,
// for a multi-platform image), each exactly as the registry served it.
type ExportSpec struct {
	// configMapName is the name of the ConfigMap, in the ImageConfig's namespace.
	// The ImageConfig owns it: deleting the ImageConfig deletes it, and a ConfigMap
	// of that name that the ImageConfig does not own is never touched (ExportConflict).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	ConfigMapName string `json:"configMapName"`
}

// ExportFailedReason means the ConfigMap could not be read or written; the
// controller retries with backoff.
const ExportFailedReason string = "ExportFailed"
