package controllers

import (
	"context"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// Finder resolves an image through its registry. The reconciler calls the registry
// only through this interface, so tests can use an in-process registry or a fake.
type Finder interface {
	Resolve(ctx context.Context, opts manifests.Options) (*manifests.Result, error)
}

// FinderFunc adapts a function to Finder.
type FinderFunc func(ctx context.Context, opts manifests.Options) (*manifests.Result, error)

// Resolve calls f.
func (f FinderFunc) Resolve(ctx context.Context, opts manifests.Options) (*manifests.Result, error) {
	return f(ctx, opts)
}

// RegistryFinder resolves images with the finders/manifests package.
var RegistryFinder Finder = FinderFunc(manifests.Resolve)
