package files

import (
	"context"
	"fmt"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// ConnectResolved connects to the repository of a resolution, with the
// credentials, transport and network policy it used (o), so that the layers of
// res can be indexed. It is manifests.Connect: with o.Cache.Sessions set (the
// manager) it reuses the resolution's session, without a handshake while that
// is cached. Its requests are not reported to o.Observer.
func ConnectResolved(ctx context.Context, o manifests.Options, res *manifests.Result) (*Registry, error) {
	where, err := manifests.ParseReference(res.ImageRef, "")
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", res.ImageRef, err)
	}
	so := o
	so.Registry, so.Repository, so.Tag, so.Digest = where.Registry, where.Repository, where.Tag, where.Digest
	so.Previous, so.Observer = nil, nil
	client, repo, err := manifests.Connect(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", where.Registry, err)
	}
	return &Registry{
		client: client,
		base:   fmt.Sprintf("%s://%s/v2/%s/blobs/", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr()),
	}, nil
}

// IndexResolved indexes every layer of a fresh resolution (one that carries
// its raw manifest and config) and merges them.
func (ix *Indexer) IndexResolved(ctx context.Context, o manifests.Options, res *manifests.Result) (*View, error) {
	if res.RawManifest == nil || res.RawConfig == nil {
		return nil, fmt.Errorf("%s: the resolution carries no manifest and config to index", res.ImageRef)
	}
	descs, err := Descriptors(res.RawManifest, res.RawConfig)
	if err != nil {
		return nil, err
	}
	src, err := ConnectResolved(ctx, o, res)
	if err != nil {
		return nil, err
	}
	layers, err := ix.Layers(ctx, src, descs)
	if err != nil {
		return nil, err
	}
	return Merge(layers), nil
}
