package demo

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/internal/artifacts"
)

// The supply-chain part of the demo (docs/supplychain.md):
//
//   - BaseRepository:BaseTag, a multi-platform base image, and AppRepository:AppTag,
//     an app built on it whose platform manifests carry the annotations
//     org.opencontainers.image.base.name and .base.digest. MoveBase (or a POST to
//     MoveBasePath on the demo registry) pushes a patched base to the same tag,
//     so that `imageconfig base` and the operator see the app's base move.
//   - SignedRepository:Tag, a BuildKit-style index with provenance and SBOM
//     attestation manifests, a cosign signature under the tag sha256-<hex>.sig
//     of the index, and a notation signature of its linux/amd64 manifest that
//     refers to it by subject (OCI 1.1), for `imageconfig referrers`.
const (
	BaseRepository   = "demo/base"
	BaseTag          = "1"
	AppRepository    = "demo/app"
	AppTag           = "1"
	SignedRepository = "demo/signed"
	// MoveBasePath moves BaseRepository:BaseTag to the next base release when POSTed to.
	MoveBasePath = "/demo/move-base"
)

// BaseReleases are the releases of the base, in order: Start pushes the first,
// and each MoveBase the next (then wraps around).
var BaseReleases = []string{"3.20.3", "3.20.4"}

// basePlatforms are the platforms of the base and the app.
var basePlatforms = Platforms[:2]

// BaseIndex builds the base index of release (one of BaseReleases).
func BaseIndex(release string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range basePlatforms {
		img, err := baseImage(p, release)
		if err != nil {
			return nil, err
		}
		pl := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	return idx, nil
}

func baseImage(p v1.Platform, release string) (v1.Image, error) {
	layer, err := tarLayer(map[string]string{"etc/os-release": "NAME=\"Alpine Linux\"\nVERSION_ID=" + release + "\n", "etc/alpine-release": release + "\n"})
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "ADD alpine-minirootfs-" + release + "-" + p.Architecture + ".tar.gz / # buildkit"}})
	if err != nil {
		return nil, err
	}
	return withPlatform(img, p, v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"/bin/sh"}})
}

// withPlatform sets the config's platform, creation time and runtime config.
func withPlatform(img v1.Image, p v1.Platform, c v1.Config) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config = c
	return mutate.ConfigFile(img, cf)
}

// AppIndex builds the app index on base, whose reference is baseName: each
// platform image is the base's plus one layer, and its manifest names the base
// (baseName and the base index's digest) in the OCI base annotations.
func AppIndex(baseName string, base v1.ImageIndex) (v1.ImageIndex, error) {
	baseDigest, err := base.Digest()
	if err != nil {
		return nil, err
	}
	im, err := base.IndexManifest()
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, d := range im.Manifests {
		b, err := base.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		layer, err := tarLayer(map[string]string{"usr/local/bin/app": "#!/bin/sh\necho app on " + d.Platform.String() + "\n"})
		if err != nil {
			return nil, err
		}
		img, err := mutate.Append(b, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "COPY app /usr/local/bin/app # buildkit"}})
		if err != nil {
			return nil, err
		}
		if img, err = withPlatform(img, *d.Platform, v1.Config{Entrypoint: []string{"/usr/local/bin/app"}}); err != nil {
			return nil, err
		}
		img = mutate.Annotations(img, map[string]string{
			"org.opencontainers.image.base.name":   baseName,
			"org.opencontainers.image.base.digest": baseDigest.String(),
		}).(v1.Image)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: d.Platform}})
	}
	return idx, nil
}

// SignedIndex builds the index of SignedRepository: the hello image of Tag for
// linux/amd64 and linux/arm64, each with a BuildKit attestation manifest holding
// an SLSA provenance and an SPDX SBOM statement.
func SignedIndex() (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range basePlatforms {
		img, err := image(p, releases[Tag])
		if err != nil {
			return nil, err
		}
		pl := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
		att, err := artifacts.AttestationManifest(img, SignedRepository, demoPredicates...)
		if err != nil {
			return nil, err
		}
		adds = append(adds, att)
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// demoPredicates are the provenance and SBOM of the signed image's attestation manifests.
var demoPredicates = []artifacts.Predicate{
	{Type: artifacts.PredicateSLSAProvenance, JSON: []byte(`{"builder":{"id":"https://example.com/demo-builder"},"buildType":"https://mobyproject.org/buildkit@v1"}`)},
	{Type: artifacts.PredicateSPDX, JSON: []byte(`{"spdxVersion":"SPDX-2.3","name":"demo/signed","packages":[{"name":"hello","versionInfo":"1.0.0"}]}`)},
}

// pushSupplyChain pushes the base (its first release), the app and the signed image.
func pushSupplyChain(ctx context.Context, addr string, auth authn.Authenticator) error {
	base, err := BaseIndex(BaseReleases[0])
	if err != nil {
		return fmt.Errorf("building the demo base: %w", err)
	}
	app, err := AppIndex(addr+"/"+BaseRepository+":"+BaseTag, base)
	if err != nil {
		return fmt.Errorf("building the demo app: %w", err)
	}
	signed, err := SignedIndex()
	if err != nil {
		return fmt.Errorf("building the demo signed image: %w", err)
	}
	for _, p := range []struct {
		repo, tag string
		idx       v1.ImageIndex
	}{{BaseRepository, BaseTag, base}, {AppRepository, AppTag, app}, {SignedRepository, Tag, signed}} {
		if err := put(ctx, addr, p.repo, p.tag, p.idx, auth); err != nil {
			return err
		}
	}
	return signDemo(ctx, addr, signed, auth)
}

// signDemo attaches the cosign and notation signatures to the signed image.
func signDemo(ctx context.Context, addr string, signed v1.ImageIndex, auth authn.Authenticator) error {
	idxDigest, err := signed.Digest()
	if err != nil {
		return err
	}
	sig, err := artifacts.CosignSignature(SignedRepository, idxDigest, "MEUCIQDdemo")
	if err != nil {
		return err
	}
	if err := put(ctx, addr, SignedRepository, idxDigest.Algorithm+"-"+idxDigest.Hex+".sig", sig, auth); err != nil {
		return err
	}
	im, err := signed.IndexManifest()
	if err != nil {
		return err
	}
	amd, err := signed.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	subject, err := partial.Descriptor(amd)
	if err != nil {
		return err
	}
	notation, err := artifacts.NotationSignature(*subject, "demo")
	if err != nil {
		return err
	}
	d, err := notation.Digest()
	if err != nil {
		return err
	}
	return put(ctx, addr, SignedRepository, "@"+d.String(), notation, auth)
}

// put writes an image or index to addr/repo:tag (or @digest when tag starts with "@").
func put(ctx context.Context, addr, repo, tag string, t remote.Taggable, auth authn.Authenticator) error {
	sep := ":"
	if tag[0] == '@' {
		sep, tag = "@", tag[1:]
	}
	ref, err := name.ParseReference(addr+"/"+repo+sep+tag, name.Insecure)
	if err != nil {
		return err
	}
	switch v := t.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, v, remote.WithContext(ctx), remote.WithAuth(auth))
	case v1.Image:
		err = remote.Write(ref, v, remote.WithContext(ctx), remote.WithAuth(auth))
	default:
		err = fmt.Errorf("cannot push a %T", t)
	}
	if err != nil {
		return fmt.Errorf("pushing the demo's %s: %w", ref, err)
	}
	return nil
}

// MoveBase pushes the next base release to BaseRepository:BaseTag on the demo
// registry at addr, and returns that release.
func (r *Registry) MoveBase(ctx context.Context) (string, error) {
	r.mu.Lock()
	r.baseRelease = (r.baseRelease + 1) % len(BaseReleases)
	release := BaseReleases[r.baseRelease]
	r.mu.Unlock()
	base, err := BaseIndex(release)
	if err != nil {
		return "", err
	}
	if err := put(ctx, r.Addr, BaseRepository, BaseTag, base, r.auth); err != nil {
		return "", err
	}
	return release, nil
}

// serveMoveBase answers a POST to MoveBasePath by moving the base.
func (r *Registry) serveMoveBase(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST to move "+BaseRepository+":"+BaseTag+" to the next base release\n", http.StatusMethodNotAllowed)
		return
	}
	release, err := r.MoveBase(req.Context())
	if err != nil {
		http.Error(w, err.Error()+"\n", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s/%s:%s is now release %s\n", r.Addr, BaseRepository, BaseTag, release)
}
