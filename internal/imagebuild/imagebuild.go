// Package imagebuild assembles the manager's container image from Go binaries,
// without a Docker engine and without pulling a base image: a multi-platform
// OCI index whose images hold /etc/passwd and /etc/group with the nonroot user
// (65532), a CA bundle and the static binary at /manager.
//
// Everything is reproducible: tar entries are sorted and carry fixed owners,
// modes and the given timestamp, and the config's dates are that timestamp, so
// the same binaries, CA bundle and metadata give the same digests.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts; the Dockerfile has the same ones.
const (
	// BinaryPath is where the manager lives in the image.
	BinaryPath = "/manager"
	// User is the numeric user and group the manager runs as: distroless' nonroot.
	User = "65532:65532"
	// CABundlePath is where the CA certificates are, Debian's and distroless' path,
	// which Go's crypto/x509 reads on Linux.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

// OCI label and annotation keys.
const (
	LabelSource     = "org.opencontainers.image.source"
	LabelVersion    = "org.opencontainers.image.version"
	LabelRevision   = "org.opencontainers.image.revision"
	LabelCreated    = "org.opencontainers.image.created"
	LabelBaseName   = "org.opencontainers.image.base.name"
	LabelBaseDigest = "org.opencontainers.image.base.digest"
)

// Metadata describes the build.
type Metadata struct {
	// Source is the repository URL, for org.opencontainers.image.source.
	Source string
	// Version is the version, for org.opencontainers.image.version (git describe).
	Version string
	// Revision is the commit, for org.opencontainers.image.revision.
	Revision string
	// Created is the timestamp of every file, history entry and config date
	// (SOURCE_DATE_EPOCH or the commit's time).
	Created time.Time
}

// Labels returns the OCI labels for m; empty values are left out.
func (m Metadata) Labels() map[string]string {
	l := map[string]string{LabelCreated: m.Created.UTC().Format(time.RFC3339)}
	for k, v := range map[string]string{LabelSource: m.Source, LabelVersion: m.Version, LabelRevision: m.Revision} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

// Platform is one image of the index.
type Platform struct {
	// Platform is the os/architecture[/variant] of the binary.
	Platform v1.Platform
	// Binary is the static manager binary for that platform.
	Binary []byte
	// Base, when set, is a base image (distroless/static:nonroot, say) that
	// provides the users and the CA bundle; the built-in base layer is then left out.
	Base v1.Image
	// BaseName is Base's reference, for the org.opencontainers.image.base.name annotation.
	BaseName string
}

// File is one entry of a layer.
type File struct {
	// Name is the path inside the image, without the leading slash; a trailing
	// slash makes a directory.
	Name string
	// Mode holds the permission bits (and os.ModeSticky as 0o1000 for /tmp).
	Mode int64
	// UID and GID own the entry.
	UID, GID int
	// Body is the content of a regular file.
	Body []byte
}

// BaseFiles returns the files a static Go binary needs from an operating
// system, the ones distroless/static:nonroot has: the users, the CA bundle,
// nonroot's home and /tmp.
func BaseFiles(caBundle []byte) []File {
	return []File{
		{Name: "etc/", Mode: 0o755},
		{Name: "etc/group", Mode: 0o644, Body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{Name: "etc/nsswitch.conf", Mode: 0o644, Body: []byte("hosts: files dns\n")},
		{Name: "etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Name: "etc/ssl/", Mode: 0o755},
		{Name: "etc/ssl/certs/", Mode: 0o755},
		{Name: strings.TrimPrefix(CABundlePath, "/"), Mode: 0o644, Body: caBundle},
		{Name: "home/", Mode: 0o755},
		{Name: "home/nonroot/", Mode: 0o700, UID: 65532, GID: 65532},
		{Name: "tmp/", Mode: 0o1777},
	}
}

// Layer builds an uncompressed tar of files, sorted by name, every entry dated
// created, and returns it as an OCI layer (gzip, compressed deterministically).
func Layer(files []File, created time.Time) (v1.Layer, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, f := range files {
		if i > 0 && files[i-1].Name == f.Name {
			return nil, fmt.Errorf("layer: %q appears twice", f.Name)
		}
		if f.Name == "" || strings.HasPrefix(f.Name, "/") || path.Clean(strings.TrimSuffix(f.Name, "/")) != strings.TrimSuffix(f.Name, "/") {
			return nil, fmt.Errorf("layer: %q is not a clean relative path", f.Name)
		}
		h := &tar.Header{
			Name: f.Name, Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			ModTime: created.UTC().Truncate(time.Second), Format: tar.FormatUSTAR,
		}
		if strings.HasSuffix(f.Name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: writing header of %q: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, fmt.Errorf("layer: writing %q: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
}

// Image builds the image of one platform.
func Image(p Platform, caBundle []byte, m Metadata) (v1.Image, error) {
	if len(p.Binary) == 0 {
		return nil, fmt.Errorf("image %s: the binary is empty", platformString(p.Platform))
	}
	created := m.Created.UTC().Truncate(time.Second)
	when := v1.Time{Time: created}
	var img v1.Image
	var history []mutate.Addendum
	if p.Base != nil {
		img = p.Base
	} else {
		if len(caBundle) == 0 {
			return nil, fmt.Errorf("image %s: no base image and no CA bundle", platformString(p.Platform))
		}
		img = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		base, err := Layer(BaseFiles(caBundle), created)
		if err != nil {
			return nil, err
		}
		history = append(history, mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: when, CreatedBy: "COPY passwd group nsswitch.conf ca-certificates.crt / # hack/image: users root and nonroot (65532), the CA bundle of golang.org/x/crypto/x509roots/fallback",
		}})
	}
	bin, err := Layer([]File{{Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755, Body: p.Binary}}, created)
	if err != nil {
		return nil, err
	}
	history = append(history, mutate.Addendum{Layer: bin, MediaType: types.OCILayer, History: v1.History{
		Created: when, CreatedBy: "COPY manager /manager # hack/image: go build -trimpath, CGO_ENABLED=0",
	}})
	history = append(history,
		mutate.Addendum{History: v1.History{Created: when, CreatedBy: "USER " + User, EmptyLayer: true}},
		mutate.Addendum{History: v1.History{Created: when, CreatedBy: `ENTRYPOINT ["` + BinaryPath + `"]`, EmptyLayer: true}},
	)
	img, err = mutate.Append(img, history...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", platformString(p.Platform), err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: reading config: %w", platformString(p.Platform), err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.Platform.OS, p.Platform.Architecture, p.Platform.Variant, p.Platform.OSVersion
	cf.Created = when
	cf.Author = ""
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = nil
	cf.Config.User = User
	cf.Config.WorkingDir = "/"
	if p.Base == nil {
		cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + CABundlePath}
	}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range m.Labels() {
		cf.Config.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", platformString(p.Platform), err)
	}
	ann := m.Labels()
	if p.Base != nil {
		d, err := p.Base.Digest()
		if err != nil {
			return nil, fmt.Errorf("image %s: base digest: %w", platformString(p.Platform), err)
		}
		ann[LabelBaseDigest] = d.String()
		if p.BaseName != "" {
			ann[LabelBaseName] = p.BaseName
		}
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// Index builds the multi-platform index of the platforms' images, in the order given.
func Index(platforms []Platform, caBundle []byte, m Metadata) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("index: no platforms")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	for _, p := range platforms {
		ps := platformString(p.Platform)
		if seen[ps] {
			return nil, fmt.Errorf("index: platform %s appears twice", ps)
		}
		seen[ps] = true
		img, err := Image(p, caBundle, m)
		if err != nil {
			return nil, err
		}
		pl := p.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	return mutate.Annotations(idx, m.Labels()).(v1.ImageIndex), nil
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], such as linux/arm64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		if parts[2] == "" {
			return v1.Platform{}, fmt.Errorf("platform %q: empty variant", s)
		}
		p.Variant = parts[2]
	}
	return p, nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
