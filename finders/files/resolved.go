package files

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// ConnectResolved connects to the repository of a resolution, with the
// credentials, transport and network policy it used (o), so that the layers of
// res can be indexed. With o.Cache.Sessions set (the manager) it reuses the
// resolution's session (manifests.Connect), without a handshake while that is
// cached; as before, its requests are not reported to o.Observer.
func ConnectResolved(ctx context.Context, o manifests.Options, res *manifests.Result) (*Registry, error) {
	var opts []name.Option
	if o.Network.Insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(res.ImageRef, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", res.ImageRef, err)
	}
	if o.Cache.Sessions == nil {
		return Connect(ctx, o, ref.Context(), nil)
	}
	// The session is the one of res's repository (res.ImageRef), with o's
	// credentials, transport and network policy.
	where, err := manifests.ParseReference(res.ImageRef, "")
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", res.ImageRef, err)
	}
	so := o
	so.Registry, so.Repository, so.Tag, so.Digest = where.Registry, where.Repository, where.Tag, where.Digest
	so.Previous, so.Observer = nil, nil
	client, repo, err := manifests.Connect(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", ref.Context().RegistryStr(), err)
	}
	return &Registry{
		client: client,
		base:   fmt.Sprintf("%s://%s/v2/%s/blobs/", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr()),
	}, nil
}

// Connect connects to repo with the credentials, transport and network policy
// of o. It and ConnectResolved are the places this package reads
// manifests.Options. wrap, when set, is RegistryOptions.Wrap.
func Connect(ctx context.Context, o manifests.Options, repo name.Repository, wrap func(http.RoundTripper) http.RoundTripper) (*Registry, error) {
	a := o.Auth.Authenticator
	var err error
	switch {
	case a != nil:
	case o.Auth.Keychain != nil:
		if a, err = authn.Resolve(ctx, o.Auth.Keychain, repo); err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
		}
	case len(o.Auth.Sources) > 0:
		if a, _, err = o.Auth.Sources.Resolve(repo); err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
		}
	}
	return NewRegistry(ctx, RegistryOptions{
		Repository:   repo.Name(),
		Insecure:     o.Network.Insecure,
		Auth:         a,
		Transport:    o.Network.Transport,
		UserAgent:    o.Network.UserAgent,
		Network:      o.Network.Policy,
		RetryBackoff: o.Network.RetryBackoff,
		Wrap:         wrap,
	})
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
