package manifests

import (
	"context"
	"errors"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// CheckReference validates the registry, repository, tag and digest of o without
// contacting the registry. Its error is an *Error with Reason InvalidReference.
func CheckReference(o Options) error {
	_, err := parseReference(o)
	return err
}

// start validates o and runs the authentication handshake.
func start(ctx context.Context, o Options) (*resolver, context.Context, context.CancelFunc, error) {
	r, ctx, cancel, err := prepare(ctx, o)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := r.connect(ctx); err != nil {
		cancel()
		_, err = r.finish(nil, err)
		return nil, nil, nil, err
	}
	return r, ctx, cancel, nil
}

// prepare validates o and bounds the resolution by its timeout, without any request.
func prepare(ctx context.Context, o Options) (*resolver, context.Context, context.CancelFunc, error) {
	ref, err := parseReference(o)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := o.Network.Policy.CheckHost(ref.host); err != nil {
		var naerr *netpolicy.NotAllowedError
		if errors.As(err, &naerr) {
			return nil, nil, nil, notAllowed(naerr, ref.host, "")
		}
		return nil, nil, nil, err
	}
	want := o.Platform
	if want.OS == "" && want.Architecture == "" {
		want.OS, want.Architecture = "linux", "amd64"
	}
	if want.OS == "" || want.Architecture == "" {
		return nil, nil, nil, newError(InvalidReference, nil, "platform %q needs both os and architecture", want.String())
	}
	if o.Network.Timeout <= 0 {
		o.Network.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, o.Network.Timeout)
	ctx, obs := session.WithObservation(ctx, o.observer())
	return &resolver{opts: o, ref: ref, want: want, obs: obs}, ctx, cancel, nil
}

// Digest returns the digest and media type of what the tag (or digest) points to,
// with one HEAD request after the handshake, or one GET when the registry does not
// answer HEAD with a digest. It does not read the index, so Options.Platform is unused.
func Digest(ctx context.Context, o Options) (digest, mediaType string, err error) {
	r, ctx, cancel, err := start(ctx, o)
	if err != nil {
		return "", "", err
	}
	defer cancel()
	if d, mt, ok, err := r.head(ctx); err != nil {
		return "", "", err
	} else if ok {
		return d, mt, nil
	}
	top, err := r.fetchTop(ctx)
	if err != nil {
		return "", "", err
	}
	return top.digest.String(), string(top.MediaType), nil
}

// Platforms lists the entries of the image index the tag points to, attestations
// included. For a single-platform image it returns one entry, read from its config.
func Platforms(ctx context.Context, o Options) ([]IndexEntry, error) {
	r, ctx, cancel, err := start(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	top, err := r.fetchTop(ctx)
	if err != nil {
		return nil, err
	}
	if top.Index != nil {
		entries, _ := summary.IndexEntries(top.Index)
		return entries, nil
	}
	cfg, err := r.config(ctx, top.Manifest.Config)
	if err != nil {
		return nil, err
	}
	return []IndexEntry{{
		OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion,
		Digest: top.digest.String(), Size: top.size, MediaType: string(top.MediaType),
	}}, nil
}

// PlatformDigest returns the digest of the manifest that Resolve would select for
// o.Platform, with one GET of the index after the handshake: the entry's digest is
// in the index. A single-platform image costs a second GET, of its config, to check
// that it is built for the platform.
func PlatformDigest(ctx context.Context, o Options) (string, error) {
	r, ctx, cancel, err := start(ctx, o)
	if err != nil {
		return "", err
	}
	defer cancel()
	top, err := r.fetchTop(ctx)
	if err != nil {
		return "", err
	}
	if top.Index != nil {
		_, selectable := summary.IndexEntries(top.Index)
		i, err := platforms.Select(r.want, selectable)
		if err != nil {
			return "", r.platformNotFound(err)
		}
		return top.Index.Manifests[i].Digest.String(), nil
	}
	cfg, err := r.config(ctx, top.Manifest.Config)
	if err != nil {
		return "", err
	}
	if err := r.checkSinglePlatform(cfg); err != nil {
		return "", err
	}
	return top.digest.String(), nil
}
