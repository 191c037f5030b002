package demo

import (
	"archive/tar"
	"bytes"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FilesRepository is a single-platform (linux/amd64) image, tagged Tag, whose
// layers give `imageconfig files` something to find: a credential deleted by a
// later layer, a setuid binary, a replaced config, a world-writable directory
// and an opaque directory.
const FilesRepository = "demo/files"

// FilesImage builds the image of FilesRepository. The content is deterministic.
func FilesImage() (v1.Image, error) {
	type entry struct {
		name, body, link string
		mode             int64
		typ              byte
	}
	reg := func(name string, mode int64, body string) entry {
		return entry{name: name, mode: mode, body: body, typ: tar.TypeReg}
	}
	dir := func(name string, mode int64) entry { return entry{name: name, mode: mode, typ: tar.TypeDir} }
	steps := []struct {
		createdBy string
		entries   []entry
	}{
		{"ADD rootfs.tar /", []entry{dir("bin/", 0o755), reg("bin/busybox", 0o755, "\x7fELF busybox"), {name: "bin/sh", link: "busybox", mode: 0o777, typ: tar.TypeSymlink},
			dir("etc/", 0o755), reg("etc/app.conf", 0o644, "debug = true\n"), dir("usr/", 0o755), dir("usr/bin/", 0o755), reg("usr/bin/passwd", 0o4755, "\x7fELF passwd"),
			dir("var/", 0o755), dir("var/cache/", 0o755), dir("var/cache/apk/", 0o755), reg("var/cache/apk/APKINDEX.tar.gz", 0o644, string(bytes.Repeat([]byte("index "), 2000)))}},
		{"RUN echo $NPM_TOKEN > /root/.npmrc && npm ci # buildkit", []entry{dir("root/", 0o700), reg("root/.npmrc", 0o600, "//registry.npmjs.org/:_authToken=npm_demo0000000000000000000000000000\n"),
			dir("app/", 0o755), dir("app/node_modules/", 0o755), reg("app/node_modules/left-pad.js", 0o644, "module.exports = s => s\n"), dir("app/uploads/", 0o777)}},
		{"RUN rm /root/.npmrc && rm -rf /var/cache/apk/* && sed -i s/true/false/ /etc/app.conf # buildkit", []entry{dir("root/", 0o700), reg("root/.wh..npmrc", 0o600, ""),
			dir("var/cache/apk/", 0o755), reg("var/cache/apk/.wh..wh..opq", 0o600, ""), dir("etc/", 0o755), reg("etc/app.conf", 0o644, "debug = false\n")}},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, s := range steps {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range s.entries {
			h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.link, Size: int64(len(e.body)), ModTime: created}
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := io.WriteString(tw, e.body); err != nil {
				return nil, err
			}
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		b := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, err
		}
		h := v1.History{Created: v1.Time{Time: created}, CreatedBy: s.createdBy}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: h, MediaType: types.OCILayer}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: created}
	cf.Config = v1.Config{Cmd: []string{"/bin/sh"}, WorkingDir: "/app"}
	return mutate.ConfigFile(img, cf)
}
