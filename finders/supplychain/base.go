package supplychain

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// CheckBase reports whether img was built on its base's current digest.
//
// The base is BaseOptions.Ref when set, else the image's base annotations
// (img.BaseImage). It returns nil, nil when no base is known.
//
// With a recorded digest (the annotation org.opencontainers.image.base.digest
// and no Ref), the image is outdated when that digest is none of: the base tag's
// current digest (an index or a manifest), the platform manifest matching the
// image, or another platform manifest of the current index. Both forms that
// BuildKit records (index or manifest) are therefore current. The cost is the
// base tag's resolution through o.Resolve: with (*manifests.Shared).Resolve, one
// HEAD per distinct base tag per head window, however many images share it.
//
// Without a recorded digest (a Ref, or a base name without a digest), the
// image's diff_ids are compared with the current base's, for the image's
// platform. They must start with the base's diff_ids; otherwise the image is
// outdated and the reason says what can be told:
//
//   - ReasonRebuiltOnOlderBase when the image carries a recorded base digest of
//     the same repository whose diff_ids are a prefix of the image's (one more
//     resolution of that digest, by digest), or when the image shares the base's
//     lowest layers but not all of them (an earlier build of the same base line);
//     a recorded digest that cannot be resolved any more leaves the layers to decide;
//   - ReasonBaseNotInLayers when no layer is shared: an image built on an older
//     base whose every layer changed cannot be told apart from one built on
//     another base, and the message says so.
//
// Errors are *manifests.Error: a base name that does not parse, names no tag, or
// names a host the network policy denies is returned before any request.
func CheckBase(ctx context.Context, img *manifests.Result, o BaseOptions) (*BaseCheck, error) {
	if img == nil {
		return nil, nil
	}
	ref, recorded := o.Ref, ""
	if ref == "" {
		if img.BaseImage == nil || img.BaseImage.Name == "" {
			return nil, nil
		}
		ref, recorded = img.BaseImage.Name, img.BaseImage.Digest
	}
	bo, err := baseOptions(ref, img, o)
	if err != nil {
		return nil, err
	}
	resolve := o.Resolve
	if resolve == nil {
		resolve = manifests.Resolve
	}
	cur, err := resolve(ctx, bo)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", ref, err)
	}
	check := &BaseCheck{Name: ref, Digest: recorded, CurrentDigest: currentDigest(cur)}
	if recorded != "" {
		compareDigests(check, cur)
		return check, nil
	}
	if err := compareLayers(ctx, check, img, cur, bo, resolve); err != nil {
		return nil, err
	}
	return check, nil
}

// baseOptions builds the options of the base's resolution from the template,
// and checks them (reference and network policy) without any request.
func baseOptions(ref string, img *manifests.Result, o BaseOptions) (manifests.Options, error) {
	ro, err := manifests.ParseReference(stripDigest(ref), "")
	if err != nil {
		return manifests.Options{}, fmt.Errorf("base image: %w", err)
	}
	if ro.Tag == "" {
		return manifests.Options{}, &manifests.Error{Reason: manifests.InvalidReference,
			Message: fmt.Sprintf("base image %q names no tag: a base pinned by digest cannot move, so there is nothing to check", oneLine(ref))}
	}
	bo := o.Registry
	bo.Registry, bo.Repository, bo.Tag, bo.Digest = ro.Registry, ro.Repository, ro.Tag, ""
	bo.Previous = nil
	bo.Platform, err = basePlatform(img, o.Platform)
	if err != nil {
		return manifests.Options{}, err
	}
	if err := manifests.CheckReference(bo); err != nil {
		return manifests.Options{}, fmt.Errorf("base image: %w", err)
	}
	if err := bo.Network.Policy.CheckHost(bo.Registry); err != nil {
		return manifests.Options{}, &manifests.Error{Reason: manifests.RegistryNotAllowed,
			Message: fmt.Sprintf("base image %s: %v", oneLine(ref), err), Err: err}
	}
	return bo, nil
}

// stripDigest drops the digest of "name:tag@sha256:…", which names the tag to
// check; a reference with only a digest is kept (and refused for naming no tag).
func stripDigest(ref string) string {
	before, _, found := strings.Cut(ref, "@")
	if !found {
		return ref
	}
	if r, err := name.NewTag(before, name.StrictValidation); err == nil && r.TagStr() != "" {
		return before
	}
	return ref
}

// basePlatform is the image's platform: want when set, else the platform the
// image was resolved for.
func basePlatform(img *manifests.Result, want *v1.Platform) (platforms.Platform, error) {
	if want != nil {
		return platforms.Platform{OS: want.OS, Architecture: want.Architecture, Variant: want.Variant, OSVersion: want.OSVersion}, nil
	}
	if img.Platform == "" {
		return platforms.Platform{}, nil
	}
	p, err := platforms.Parse(img.Platform)
	if err != nil {
		return platforms.Platform{}, &manifests.Error{Reason: manifests.InvalidReference, Message: fmt.Sprintf("image platform: %v", err), Err: err}
	}
	return p, nil
}

// currentDigest is the platform manifest the base tag points to for the image.
func currentDigest(cur *manifests.Result) string {
	if cur.ManifestDigest != "" {
		return cur.ManifestDigest
	}
	return cur.Digest
}

// compareDigests is the annotations case.
func compareDigests(check *BaseCheck, cur *manifests.Result) {
	if check.Digest == cur.Digest || check.Digest == cur.ManifestDigest {
		return
	}
	for _, p := range cur.Platforms {
		if p.Digest == check.Digest && !p.Attestation {
			return
		}
	}
	check.Outdated = true
	check.Reason = ReasonBaseMoved
	check.Message = fmt.Sprintf("base %s moved: the image was built on %s, the tag now points to %s", check.Name, check.Digest, tagDigests(cur))
}

// tagDigests names what the tag points to: the platform manifest, and the index when there is one.
func tagDigests(cur *manifests.Result) string {
	if cur.ManifestDigest != "" && cur.ManifestDigest != cur.Digest {
		return fmt.Sprintf("%s (platform %s of index %s)", cur.ManifestDigest, cur.Platform, cur.Digest)
	}
	return cur.Digest
}

// compareLayers is the ref case: the image's diff_ids must start with the base's.
func compareLayers(ctx context.Context, check *BaseCheck, img, cur *manifests.Result, bo manifests.Options,
	resolve func(context.Context, manifests.Options) (*manifests.Result, error)) error {
	have, base := diffIDs(img), diffIDs(cur)
	if len(base) == 0 {
		return &manifests.Error{Reason: manifests.InvalidManifest, Message: fmt.Sprintf("base %s (%s) lists no layer diff_ids to compare", check.Name, check.CurrentDigest)}
	}
	if len(have) == 0 {
		return &manifests.Error{Reason: manifests.InvalidManifest, Message: fmt.Sprintf("image %s lists no layer diff_ids to compare with base %s", img.ImageRef, check.Name)}
	}
	if hasPrefix(have, base) {
		return nil
	}
	check.Outdated = true
	if older, ok := olderRecordedBase(ctx, img, bo, resolve); ok {
		check.Reason = ReasonRebuiltOnOlderBase
		check.Message = fmt.Sprintf("rebuilt on an older base: the image's layers start with those of %s@%s, recorded in its annotations; %s now points to %s",
			check.Name, older, check.Name, tagDigests(cur))
		return nil
	}
	if n := commonPrefix(have, base); n > 0 {
		check.Reason = ReasonRebuiltOnOlderBase
		check.Message = fmt.Sprintf("rebuilt on an older base: the image shares the lowest %d of the %d layers of %s (%s) and not the others",
			n, len(base), check.Name, check.CurrentDigest)
		return nil
	}
	check.Reason = ReasonBaseNotInLayers
	check.Message = fmt.Sprintf("base not found in layers: the image's layers do not start with the %d layers of %s (%s); it was built on an older base whose layers all changed, or on another base",
		len(base), check.Name, check.CurrentDigest)
	return nil
}

// olderRecordedBase resolves the base digest recorded in the image's
// annotations, when they name the same repository as bo, and reports whether its
// diff_ids are a prefix of the image's. It only refines the reason: when the
// recorded digest cannot be resolved (deleted, say), it reports false and the
// layers alone decide.
func olderRecordedBase(ctx context.Context, img *manifests.Result, bo manifests.Options,
	resolve func(context.Context, manifests.Options) (*manifests.Result, error)) (string, bool) {
	if img.BaseImage == nil || img.BaseImage.Digest == "" {
		return "", false
	}
	ro, err := manifests.ParseReference(stripDigest(img.BaseImage.Name), "")
	if err != nil || ro.Registry != bo.Registry || ro.Repository != bo.Repository {
		return "", false
	}
	bo.Tag, bo.Digest = "", img.BaseImage.Digest
	old, err := resolve(ctx, bo)
	if err != nil {
		return "", false
	}
	base := diffIDs(old)
	return img.BaseImage.Digest, len(base) > 0 && hasPrefix(diffIDs(img), base)
}

func diffIDs(r *manifests.Result) []string {
	out := make([]string, 0, len(r.Layers))
	for _, l := range r.Layers {
		out = append(out, l.DiffID)
	}
	return out
}

func hasPrefix(have, base []string) bool {
	return len(have) >= len(base) && commonPrefix(have, base) == len(base)
}

func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] != "" && a[n] == b[n] {
		n++
	}
	return n
}

// oneLine keeps a registry-supplied name on one short line in a message.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return s
}
