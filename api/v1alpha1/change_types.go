package v1alpha1

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
