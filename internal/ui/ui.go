// Package ui serves a read-only web UI of ImageConfigs: the fleet at a glance
// (/) and one image's conditions, digests, platforms, config and layers
// (/namespaces/{namespace}/imageconfigs/{name}).
//
// Pages are server-rendered with html/template from embedded templates and one
// stylesheet; nothing needs JavaScript, and sorting and filtering are query
// parameters (?sort=size&order=desc). Every URL answers JSON in the status'
// field names for Accept: application/json.
//
// Everything a page shows from a registry (labels, env, createdBy, platform and
// digest strings) is attacker-controlled. It reaches the page only through
// html/template's contextual escaping, control and bidirectional characters are
// shown escaped, and every response carries a Content-Security-Policy that
// forbids scripts.
//
// The package takes its data through Source (and, for on-demand lookups,
// Resolver). It talks neither to the Kubernetes API nor to a registry itself:
// the manager hands it its informer cache, and `imageconfig serve` the finders.
package ui

import (
	"context"
	"errors"
	"time"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// ErrNotFound is returned by Source.Get when there is no such object.
var ErrNotFound = errors.New("not found")

// Source lists and gets ImageConfigs.
type Source interface {
	// List returns every ImageConfig the source knows.
	List(ctx context.Context) ([]Item, error)
	// Get returns one ImageConfig, or an error that wraps ErrNotFound, or
	// ErrForbidden when the request's user may not read it.
	Get(ctx context.Context, namespace, name string) (*Item, error)
}

// Resolver resolves a reference on demand. When the Source also implements
// Resolver, the pages carry a form that takes a reference and a platform, and
// /image?ref=REF&platform=PLATFORM shows the result.
type Resolver interface {
	// Resolve resolves ref for platform ("" for the default). A registry failure is
	// not an error: the item's Ready condition carries it, as a failing object's does.
	// The error is for bad input and is shown to the user.
	Resolve(ctx context.Context, ref, platform string) (*Item, error)
}

// Item is one ImageConfig as the pages show it.
type Item struct {
	// Object is the ImageConfig: its namespace and name, spec and status. Objects
	// resolved on demand have no namespace.
	Object imagesv1alpha1.ImageConfig
	// Steps is the build history, empty-layer steps included, when the source has
	// the config blob. When nil, the pages list status.layers.
	Steps []Step
}

// Step is one build-history step.
type Step struct {
	// Layer is the index of the layer the step created, or -1 for an empty-layer step.
	Layer int `json:"layer"`
	// Size is the compressed size of the step's layer.
	Size int64 `json:"size,omitempty"`
	// Digest is the step's layer's digest.
	Digest string `json:"digest,omitempty"`
	// EmptyLayer marks a step that created no layer (ENV, LABEL, CMD…).
	EmptyLayer bool `json:"emptyLayer,omitempty"`
	// CreatedBy is the step's instruction as the history records it.
	CreatedBy string `json:"createdBy,omitempty"`
	// Comment is the history entry's comment.
	Comment string `json:"comment,omitempty"`
}

// Options configure the handler.
type Options struct {
	// Source provides the data. Required.
	Source Source
	// Instruction renders a history entry as a Dockerfile line; nil shows
	// createdBy as it is (or the comment when it is empty).
	Instruction func(createdBy, comment string) string
	// Now returns the current time, for ages; time.Now when nil.
	Now func() time.Time
	// Title is shown in the header; "imageconfig" when empty.
	Title string
	// ObjectFiles, when set, serves the layer file index of ImageConfigs with
	// spec.files.index (the manager's indexer); nil leaves those pages out.
	ObjectFiles ObjectFileIndexer
}
