package files

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// OCI whiteout names.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
)

// estargzMeta are the root entries an eStargz layer adds for itself; they are
// not part of the image's file system.
var estargzMeta = map[string]bool{"stargz.index.json": true, ".prefetch.landmark": true, ".no.prefetch.landmark": true}

// maxZstdWindow bounds the memory a zstd stream may ask for.
const maxZstdWindow = 32 << 20

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// ReadLayer indexes one layer from its compressed blob, read once from body:
// gzip, zstd or an uncompressed tar, told apart by their first bytes. Only tar
// headers are kept; file contents are read through and dropped. The compressed
// bytes are checked against d.Digest and d.Size, and the uncompressed bytes
// against d.DiffID, when they are set.
//
// Errors are *DigestMismatchError, *LimitError, *FormatError, or ctx's error.
func ReadLayer(ctx context.Context, body io.Reader, d Descriptor, lim Limits) (*Layer, error) {
	lim = lim.withDefaults()
	if d.Size > lim.MaxLayerSize {
		return nil, &LimitError{Layer: d.Digest, Limit: "layer size", Value: d.Size, Max: lim.MaxLayerSize}
	}
	compressed, err := newVerifier(d.Digest, body)
	if err != nil {
		return nil, &FormatError{Layer: d.Digest, What: "digest", Err: err}
	}
	compressed.max = lim.MaxLayerSize
	compressed.tooLong = func(n int64) error {
		return &LimitError{Limit: "layer size", Value: n, Max: lim.MaxLayerSize}
	}
	if d.Size > 0 {
		compressed.max = d.Size
		compressed.tooLong = func(n int64) error {
			return fmt.Errorf("the blob is longer than the %d bytes the manifest declares", d.Size)
		}
	}
	br := bufio.NewReaderSize(compressed, 64<<10)

	var plain io.Reader = br
	what := "tar"
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		what = "gzip stream"
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, layerErr(ctx, d, what, err)
		}
		defer gz.Close()
		plain = gz
	case bytes.HasPrefix(magic, zstdMagic):
		what = "zstd stream"
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, layerErr(ctx, d, what, err)
		}
		defer zr.Close()
		plain = zr
	}
	uncompressed, err := newVerifier(d.DiffID, plain)
	if err != nil {
		return nil, &FormatError{Layer: d.Digest, What: "diffID", Err: err}
	}
	uncompressed.max = lim.MaxUncompressedSize
	uncompressed.tooLong = func(n int64) error {
		return &LimitError{Limit: "uncompressed size", Value: n, Max: lim.MaxUncompressedSize}
	}

	l := &Layer{Digest: d.Digest, DiffID: d.DiffID, MediaType: d.MediaType, Size: d.Size, Source: SourceStream}
	tr := tar.NewReader(uncompressed)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, layerErr(ctx, d, streamWhat(what, compressed), err)
		}
		if n >= lim.MaxEntries {
			return nil, &LimitError{Layer: d.Digest, Limit: "entries", Value: int64(n + 1), Max: int64(lim.MaxEntries)}
		}
		if err := l.add(hdr, d, lim); err != nil {
			return nil, err
		}
	}
	// The tar ends with zero blocks, and a compressed stream may hold more after
	// it: read everything, so that both digests cover the whole blob.
	if _, err := io.Copy(io.Discard, uncompressed); err != nil {
		return nil, layerErr(ctx, d, streamWhat(what, compressed), err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, layerErr(ctx, d, "blob", err)
	}
	if err := compressed.overLimit(); err != nil {
		return nil, layerErr(ctx, d, "blob", err)
	}
	if err := compressed.check(d.Digest, "compressed blob"); err != nil {
		return nil, err
	}
	if d.Size > 0 && compressed.n != d.Size {
		return nil, &FormatError{Layer: d.Digest, What: "blob", Err: fmt.Errorf("read %d bytes, the manifest declares %d", compressed.n, d.Size)}
	}
	if err := uncompressed.check(d.Digest, "uncompressed tar (diffID)"); err != nil {
		return nil, err
	}
	l.UncompressedSize = uncompressed.n
	return l, nil
}

// streamWhat names the part of the stream an error came from: the blob when
// it was longer than declared, else the decompressor's or tar's.
func streamWhat(what string, c *verifier) string {
	if c.overLimit() != nil {
		return "blob"
	}
	return what
}

// layerErr turns a read error into the package's errors: the context's own
// error when it ended, a LimitError for a size limit, a FormatError otherwise.
func layerErr(ctx context.Context, d Descriptor, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, ctxErr)
	}
	var le *LimitError
	if errors.As(err, &le) {
		le.Layer = d.Digest
		return le
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &FormatError{Layer: d.Digest, What: what, Err: err}
}

// add records one tar header.
func (l *Layer) add(hdr *tar.Header, d Descriptor, lim Limits) error {
	if len(hdr.Name) > lim.MaxPathLength {
		return &LimitError{Layer: d.Digest, Limit: "path length", Value: int64(len(hdr.Name)), Max: int64(lim.MaxPathLength), Path: hdr.Name}
	}
	if len(hdr.Linkname) > lim.MaxPathLength {
		return &LimitError{Layer: d.Digest, Limit: "link target length", Value: int64(len(hdr.Linkname)), Max: int64(lim.MaxPathLength), Path: hdr.Name}
	}
	var t Type
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont: // archive/tar reports the old TypeRegA ("\x00") as TypeReg
		t = TypeFile
	case tar.TypeDir:
		t = TypeDir
	case tar.TypeSymlink:
		t = TypeSymlink
	case tar.TypeLink:
		t = TypeHardlink
	case tar.TypeChar:
		t = TypeChar
	case tar.TypeBlock:
		t = TypeBlock
	case tar.TypeFifo:
		t = TypeFifo
	default:
		// Global PAX headers and vendor extensions name no file.
		return nil
	}
	e := Entry{Type: t, Mode: Mode(hdr.Mode) & 07777, UID: hdr.Uid, GID: hdr.Gid}
	if t == TypeFile {
		e.Size = hdr.Size
	}
	return l.addEntry(e, hdr.Name, hdr.Linkname, d.TOCDigest != "")
}

// addEntry places one entry by its tar name: a whiteout, an opaque marker, or
// a file; names that escape the root are kept as data and flagged.
func (l *Layer) addEntry(e Entry, name, link string, estargz bool) error {
	rel, escapes := cleanName(name)
	if escapes {
		e.Path, e.Escapes, e.LinkTarget = rel, true, link
		l.Entries = append(l.Entries, e)
		return nil
	}
	if estargz && estargzMeta[rel] {
		return nil
	}
	dir, base := path.Split(rel)
	switch {
	case base == opaqueMarker:
		l.OpaqueDirs = append(l.OpaqueDirs, absolute(dir))
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a file of the image
	case strings.HasPrefix(base, whiteoutPrefix):
		l.Whiteouts = append(l.Whiteouts, absolute(path.Join(dir, base[len(whiteoutPrefix):])))
		return nil
	}
	e.Path = absolute(rel)
	switch e.Type {
	case TypeHardlink:
		target, esc := cleanName(link)
		if esc {
			e.LinkTarget, e.Escapes = target, true
		} else {
			e.LinkTarget = absolute(target)
		}
	case TypeSymlink:
		e.LinkTarget = link
	}
	l.Entries = append(l.Entries, e)
	return nil
}

// cleanName cleans a tar name relative to the root: "./a//b/" is "a/b" and
// "/x" is "x". It reports whether the name leaves the root ("../x").
func cleanName(name string) (string, bool) {
	rel := path.Clean("/" + strings.TrimLeft(name, "/"))
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return raw, true
	}
	return strings.TrimPrefix(rel, "/"), false
}

func absolute(rel string) string { return path.Clean("/" + rel) }

// verifier counts and hashes what is read through it; past max bytes, its
// reads fail with tooLong's error.
type verifier struct {
	r       io.Reader
	h       hash.Hash
	want    string
	n       int64
	max     int64
	tooLong func(n int64) error
}

func newVerifier(digest string, r io.Reader) (*verifier, error) {
	v := &verifier{r: r, want: digest, max: -1}
	if digest == "" {
		return v, nil
	}
	algo, hexPart, ok := strings.Cut(digest, ":")
	switch {
	case !ok:
		return nil, fmt.Errorf("%q is not a digest", digest)
	case algo == "sha256" && len(hexPart) == 64:
		v.h = sha256.New()
	case algo == "sha512" && len(hexPart) == 128:
		v.h = sha512.New()
	default:
		return nil, fmt.Errorf("unsupported digest %q: want sha256 or sha512", digest)
	}
	return v, nil
}

func (v *verifier) Read(p []byte) (int, error) {
	if err := v.overLimit(); err != nil {
		return 0, err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		if v.h != nil {
			v.h.Write(p[:n])
		}
		v.n += int64(n)
		if err := v.overLimit(); err != nil {
			return n, err
		}
	}
	return n, err
}

// overLimit is the error of a verifier that read past its bound, or nil.
func (v *verifier) overLimit() error {
	if v.max >= 0 && v.n > v.max {
		return v.tooLong(v.n)
	}
	return nil
}

// check compares the hash of everything read with the expected digest.
func (v *verifier) check(layer, what string) error {
	if v.h == nil {
		return nil
	}
	algo, _, _ := strings.Cut(v.want, ":")
	got := algo + ":" + hex.EncodeToString(v.h.Sum(nil))
	if got != v.want {
		return &DigestMismatchError{Layer: layer, What: what, Want: v.want, Got: got}
	}
	return nil
}
