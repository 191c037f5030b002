package imagebuild

import (
	"archive/tar"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var testMeta = Metadata{
	Source:   "https://example.com/imageconfig-operator",
	Version:  "v0.1.0-3-gabcdef0",
	Revision: "abcdef0123456789abcdef0123456789abcdef01",
	Created:  time.Unix(1764547200, 0),
}

func testPlatforms() []Platform {
	return []Platform{
		{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Binary: []byte("\x7fELF amd64 manager")},
		{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Binary: []byte("\x7fELF arm64 manager")},
	}
}

func testCA(t *testing.T) []byte {
	t.Helper()
	return []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
}

type entry struct {
	hdr  *tar.Header
	body string
}

func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, entry{h, string(b)})
	}
}

func TestIndex(t *testing.T) {
	idx, err := Index(testPlatforms(), testCA(t), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", mt, types.OCIImageIndex)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations[LabelRevision] != testMeta.Revision || im.Annotations[LabelSource] != testMeta.Source {
		t.Errorf("index annotations %v lack the source and revision", im.Annotations)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := img.Manifest()
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s with config %s, want OCI types", d.Platform, m.MediaType, m.Config.MediaType)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture {
			t.Errorf("config platform %s/%s under descriptor %s", cf.OS, cf.Architecture, d.Platform)
		}
		if !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || cf.Config.User != "65532:65532" || len(cf.Config.Cmd) != 0 {
			t.Errorf("%s: entrypoint %q cmd %q user %q", d.Platform, cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User)
		}
		for k, want := range map[string]string{LabelSource: testMeta.Source, LabelVersion: testMeta.Version, LabelRevision: testMeta.Revision, LabelCreated: "2025-12-01T00:00:00Z"} {
			if cf.Config.Labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", d.Platform, k, cf.Config.Labels[k], want)
			}
		}
		if !cf.Created.Equal(testMeta.Created) {
			t.Errorf("%s: created %s, want %s", d.Platform, cf.Created, testMeta.Created)
		}
		layers, _ := img.Layers()
		if len(layers) != 2 || len(cf.History) != 4 {
			t.Fatalf("%s: %d layers and %d history entries, want 2 and 4", d.Platform, len(layers), len(cf.History))
		}
		for _, h := range cf.History {
			if !h.Created.Equal(testMeta.Created) {
				t.Errorf("%s: history %q dated %s", d.Platform, h.CreatedBy, h.Created)
			}
		}
		base, bin := layerEntries(t, layers[0]), layerEntries(t, layers[1])
		var names []string
		for _, e := range base {
			names = append(names, e.hdr.Name)
			if !e.hdr.ModTime.Equal(testMeta.Created) {
				t.Errorf("%s: %s dated %s", d.Platform, e.hdr.Name, e.hdr.ModTime)
			}
			switch e.hdr.Name {
			case "etc/passwd":
				if !strings.Contains(e.body, "nonroot:x:65532:65532:") {
					t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", e.body)
				}
			case "etc/ssl/certs/ca-certificates.crt":
				if e.body != string(testCA(t)) {
					t.Errorf("CA bundle = %q", e.body)
				}
			case "home/nonroot/":
				if e.hdr.Uid != 65532 || e.hdr.Gid != 65532 || e.hdr.Mode != 0o700 {
					t.Errorf("home/nonroot/ owned %d:%d mode %o", e.hdr.Uid, e.hdr.Gid, e.hdr.Mode)
				}
			default:
				if e.hdr.Uid != 0 || e.hdr.Gid != 0 {
					t.Errorf("%s owned %d:%d, want 0:0", e.hdr.Name, e.hdr.Uid, e.hdr.Gid)
				}
			}
		}
		if !slices.IsSorted(names) || !slices.Contains(names, "etc/ssl/certs/ca-certificates.crt") || !slices.Contains(names, "tmp/") {
			t.Errorf("%s: base layer entries %v: not sorted or incomplete", d.Platform, names)
		}
		if len(bin) != 1 || bin[0].hdr.Name != "manager" || bin[0].hdr.Mode != 0o755 || !strings.Contains(bin[0].body, d.Platform.Architecture) {
			t.Errorf("%s: binary layer %+v", d.Platform, bin)
		}
	}
	if !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", got)
	}
}

func TestIndexIsReproducible(t *testing.T) {
	digest := func(m Metadata, ps []Platform) v1.Hash {
		t.Helper()
		idx, err := Index(ps, testCA(t), m)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest(testMeta, testPlatforms())
	if again := digest(testMeta, testPlatforms()); again != first {
		t.Errorf("the same inputs gave %s and %s", first, again)
	}
	later := testMeta
	later.Created = testMeta.Created.Add(time.Second)
	otherBinary := testPlatforms()
	otherBinary[1].Binary = []byte("changed")
	otherRevision := testMeta
	otherRevision.Revision = "0000000"
	for name, d := range map[string]v1.Hash{
		"timestamp": digest(later, testPlatforms()),
		"binary":    digest(testMeta, otherBinary),
		"revision":  digest(otherRevision, testPlatforms()),
	} {
		if d == first {
			t.Errorf("another %s gave the same digest %s", name, d)
		}
	}
}

func TestIndexErrors(t *testing.T) {
	dup := append(testPlatforms(), testPlatforms()[0])
	empty := testPlatforms()
	empty[0].Binary = nil
	tests := []struct {
		name      string
		platforms []Platform
		ca        []byte
		want      string
	}{
		{"no platforms", nil, testCA(t), "no platforms"},
		{"duplicate platform", dup, testCA(t), "linux/amd64 appears twice"},
		{"empty binary", empty, testCA(t), "linux/amd64: the binary is empty"},
		{"no CA bundle", testPlatforms(), nil, "no CA bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Index(tt.platforms, tt.ca, testMeta)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLayerRejectsBadPaths(t *testing.T) {
	for _, name := range []string{"", "/etc/passwd", "etc/../passwd", "etc//passwd"} {
		if _, err := Layer([]File{{Name: name, Mode: 0o644}}, testMeta.Created); err == nil {
			t.Errorf("Layer accepted %q", name)
		}
	}
	if _, err := Layer([]File{{Name: "a", Mode: 0o644}, {Name: "a", Mode: 0o644}}, testMeta.Created); err == nil {
		t.Error("Layer accepted a duplicate entry")
	}
}

func TestCABundle(t *testing.T) {
	b := CABundle()
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if len(strings.TrimSpace(string(rest))) != 0 {
				t.Fatalf("trailing bytes after %d certificates", n)
			}
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
		if !c.IsCA {
			t.Errorf("%s is not a CA", c.Subject)
		}
		pool.AddCert(c)
		n++
	}
	// NSS has about 150 roots; a bundle of a handful would mean a broken extraction.
	if n < 100 {
		t.Errorf("the bundle has %d certificates, want over 100", n)
	}
	if !pool.AppendCertsFromPEM(b) {
		t.Error("crypto/x509 does not read the bundle")
	}
}

func TestParsePlatform(t *testing.T) {
	tests := []struct {
		in      string
		want    v1.Platform
		wantErr bool
	}{
		{in: "linux/amd64", want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "linux/arm/v7", want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{in: "linux", wantErr: true},
		{in: "linux/", wantErr: true},
		{in: "linux/arm/", wantErr: true},
		{in: "linux/arm/v7/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePlatform(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !got.Equals(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDockerfileMatches keeps the Dockerfile, for users with Docker, in step
// with the image make image builds: same user, same entrypoint.
func TestDockerfileMatches(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var user, entrypoint string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "USER "); ok {
			user = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			entrypoint = strings.TrimSpace(v)
		}
	}
	if user != User {
		t.Errorf("the Dockerfile's USER is %q, make image's %q", user, User)
	}
	if want := `["` + BinaryPath + `"]`; entrypoint != want {
		t.Errorf("the Dockerfile's ENTRYPOINT is %s, make image's %s", entrypoint, want)
	}
}

// TestImageOnBase builds on a given base image, as make image IMAGE_BASE=… does:
// the base's layers and environment stay, the built-in base layer is left out,
// and the manifest names the base.
func TestImageOnBase(t *testing.T) {
	base, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	bcf, _ := base.ConfigFile()
	bcf = bcf.DeepCopy()
	bcf.Config.Env = []string{"PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	bcf.Config.Cmd = []string{"/bin/sh"}
	if base, err = mutate.ConfigFile(base, bcf); err != nil {
		t.Fatal(err)
	}
	p := testPlatforms()[1]
	p.Base, p.BaseName = base, "gcr.io/distroless/static:nonroot"
	img, err := Image(p, nil, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 3 {
		t.Fatalf("%d layers, want the base's 2 and the manager", len(layers))
	}
	if bin := layerEntries(t, layers[2]); len(bin) != 1 || bin[0].hdr.Name != "manager" {
		t.Errorf("the top layer is %+v, want the manager", bin)
	}
	cf, _ := img.ConfigFile()
	if !slices.Equal(cf.Config.Env, bcf.Config.Env) || len(cf.Config.Cmd) != 0 || cf.Config.User != User || cf.Architecture != "arm64" {
		t.Errorf("config env %q cmd %q user %q arch %s", cf.Config.Env, cf.Config.Cmd, cf.Config.User, cf.Architecture)
	}
	m, _ := img.Manifest()
	bd, _ := base.Digest()
	if m.Annotations[LabelBaseName] != p.BaseName || m.Annotations[LabelBaseDigest] != bd.String() {
		t.Errorf("manifest annotations %v, want the base's name and digest %s", m.Annotations, bd)
	}
}
