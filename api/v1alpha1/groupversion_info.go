// Package v1alpha1 contains the API types of the images.imageconfig.dev group.
//
// An ImageConfig names a container image in a registry and a platform. The
// controller resolves the image's manifest chain and records the image's build
// config (env, cmd, entrypoint, user, labels, layers and their history) in the
// object's status.
//
// +kubebuilder:object:generate=true
// +groupName=images.imageconfig.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "images.imageconfig.dev", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this group and version to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // SA1019: kubebuilder's scaffold; the api package only registers its own types

	// AddToScheme adds the types of this group and version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
