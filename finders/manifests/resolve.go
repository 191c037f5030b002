package manifests

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// DefaultTimeout bounds a resolution when Options.Network.Timeout is zero.
const DefaultTimeout = time.Minute

type resolver struct {
	opts             Options
	authSource       string
	retryAfterHeader string
	ref              reference
	want             platforms.Platform
	client           *http.Client
	obs              *session.Observation
}

// Resolve walks the manifest chain of the image named by o: the tag (or digest),
// the image index and the platform's manifest, then the config blob. A first
// resolution of a multi-platform tag costs three GETs after the authentication
// handshake; with o.Previous it costs one HEAD when the tag has not moved.
//
// Errors are *Error.
func Resolve(ctx context.Context, o Options) (*Result, error) {
	r, ctx, cancel, err := start(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return r.finish(r.resolve(ctx))
}

func (r *resolver) resolve(ctx context.Context) (*Result, error) {
	if prev := r.reusable(r.opts.Previous); prev != nil {
		digest, _, ok, err := r.head(ctx)
		if err != nil {
			return nil, err
		}
		if ok && digest == prev.Digest {
			res := &Result{Summary: prev.Summary, Unchanged: true}
			res.AuthSource = r.authSource
			return res, nil
		}
	}

	top, err := r.fetchTop(ctx)
	if err != nil {
		return nil, err
	}
	return r.walk(ctx, top, r)
}

// fetcher GETs manifests and config blobs: the resolver itself, or the shared
// layer's content cache in front of it.
type fetcher interface {
	fetchManifest(ctx context.Context, identifier string, expect *v1.Hash, declared int64) (*fetched, error)
	fetchConfig(ctx context.Context, d v1.Descriptor) ([]byte, error)
}

// walk resolves the rest of the chain below top (the index or manifest the tag
// points to): the platform's manifest and the config blob, fetched through src.
func (r *resolver) walk(ctx context.Context, top *fetched, src fetcher) (*Result, error) {
	res := &Result{Summary: Summary{
		ImageRef:   r.ref.canonical,
		Digest:     top.digest.String(),
		MediaType:  string(top.MediaType),
		AuthSource: r.authSource,
	}}

	manifest := top
	var entry *v1.Descriptor
	if top.Index != nil {
		res.RawIndex = top.raw
		entries, selectable := summary.IndexEntries(top.Index)
		res.Platforms = entries
		i, err := platforms.Select(r.want, selectable)
		if err != nil {
			return nil, r.platformNotFound(err)
		}
		d := top.Index.Manifests[i]
		entry = &d
		manifest, err = src.fetchManifest(ctx, d.Digest.String(), &d.Digest, d.Size)
		if err != nil {
			return nil, err
		}
		if manifest.Index != nil {
			return nil, newError(Unsupported, nil, "unsupported: index entry %s of %s is itself an index", d.Digest, r.ref.describe())
		}
		res.Platform = summary.EntryPlatform(d).String()
	}
	res.ManifestDigest = manifest.digest.String()
	res.ConfigDigest = manifest.Manifest.Config.Digest.String()

	raw, err := src.fetchConfig(ctx, manifest.Manifest.Config)
	if err != nil {
		return nil, err
	}
	cfg, err := r.parseConfigBlob(raw, manifest.Manifest.Config)
	if err != nil {
		return nil, err
	}
	if top.Index == nil {
		if err := r.checkSinglePlatform(cfg); err != nil {
			return nil, err
		}
		res.Platform = summary.ConfigPlatform(cfg).String()
	}
	res.RawConfig = raw
	res.RawManifest = manifest.raw
	summary.Fill(&res.Summary, manifest.Manifest, cfg)
	res.BaseImage = summary.Base(manifest.Manifest, entry, cfg)
	return res, nil
}

// checkSinglePlatform checks that a single-platform image is built for the
// requested platform, by the same rules as an index entry.
func (r *resolver) checkSinglePlatform(cfg *v1.ConfigFile) error {
	got := summary.ConfigPlatform(cfg)
	if _, err := platforms.Select(r.want, []platforms.Entry{{Platform: got, HasPlatform: true}}); err != nil {
		return &Error{
			Reason:    PlatformMismatch,
			Message:   oneLine(fmt.Sprintf("%s is a single-platform image for %s, not %s", r.ref.describe(), summary.DescribePlatform(got), summary.DescribePlatform(r.want))),
			Available: []string{summary.DescribePlatform(got)},
		}
	}
	return nil
}

// reusable returns prev when it resolved the same reference to an entry that the
// requested platform still selects; a HEAD request can then confirm it.
func (r *resolver) reusable(prev *Result) *Result {
	if prev == nil || prev.Digest == "" || prev.ImageRef != r.ref.canonical || prev.Config == nil {
		return nil
	}
	if len(prev.Platforms) == 0 {
		got := platforms.Platform{OS: prev.Config.OS, Architecture: prev.Config.Architecture, Variant: prev.Config.Variant, OSVersion: prev.Config.OSVersion}
		if _, err := platforms.Select(r.want, []platforms.Entry{{Platform: got, HasPlatform: true}}); err != nil {
			return nil
		}
		return prev
	}
	entries := make([]platforms.Entry, len(prev.Platforms))
	for i, e := range prev.Platforms {
		entries[i] = platforms.Entry{
			Platform:    platforms.Platform{OS: e.OS, Architecture: e.Architecture, Variant: e.Variant, OSVersion: e.OSVersion},
			HasPlatform: e.OS != "" || e.Architecture != "",
			MediaType:   e.MediaType,
		}
		if e.Attestation {
			entries[i].Annotations = map[string]string{summary.AttestationTypeAnnotation: summary.AttestationManifest}
		}
	}
	i, err := platforms.Select(r.want, entries)
	if err != nil || prev.Platforms[i].Digest != prev.ManifestDigest {
		return nil
	}
	return prev
}

func (r *resolver) platformNotFound(err error) error {
	var nf *platforms.NotFoundError
	if !errors.As(err, &nf) {
		return newError(PlatformNotFound, err, "%s: %v", r.ref.describe(), err)
	}
	e := &Error{Reason: PlatformNotFound, Err: err}
	for _, p := range nf.Available {
		e.Available = append(e.Available, summary.DescribePlatform(p))
	}
	e.Message = fmt.Sprintf("%s has no image for platform %s", r.ref.describe(), summary.DescribePlatform(r.want))
	if len(e.Available) == 0 {
		e.Message += "; the index has no selectable platforms"
	} else {
		e.Message += "; available: " + strings.Join(e.Available, ", ")
	}
	// The platforms come from the registry and may hold newlines.
	e.Message = oneLine(e.Message)
	return e
}
