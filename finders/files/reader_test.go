package files

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var longName = "opt/" + strings.Repeat("very-long-directory-name/", 8) + "file.txt"

func TestReadLayerCompressions(t *testing.T) {
	tarBytes := tarOf(t,
		dir("./", 0o755),
		dir("./etc/", 0o755),
		file("./etc/passwd", 0o644, "root:x:0:0\n"),
		file("usr/bin/su", 0o4755, "ELF"),
		symlink("usr/bin/sh", "busybox"),
		hardlink("usr/bin/ln", "./usr/bin/su"),
		tf{Name: longName, Type: tar.TypeReg, Mode: 0o600, Body: "pax", Format: tar.FormatPAX},
		tf{Name: "gnu/" + strings.Repeat("g", 150), Type: tar.TypeReg, Mode: 0o644, Body: "gnu", Format: tar.FormatGNU},
		tf{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666},
		tf{Name: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
		tf{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o660},
		whiteout("var/cache/.wh.old"),
		whiteout("var/lib/.wh..wh..opq"),
		whiteout(".wh..wh.plnk"),
		file("../escape", 0o644, "x"),
		hardlink("etc/shadow-link", "../../etc/shadow"),
	)
	want := &Layer{
		Source: SourceStream,
		Entries: []Entry{
			{Path: "/", Type: TypeDir, Mode: 0o755},
			{Path: "/etc", Type: TypeDir, Mode: 0o755},
			{Path: "/etc/passwd", Type: TypeFile, Mode: 0o644, Size: 11},
			{Path: "/usr/bin/su", Type: TypeFile, Mode: 0o4755, Size: 3},
			{Path: "/usr/bin/sh", Type: TypeSymlink, Mode: 0o777, LinkTarget: "busybox"},
			{Path: "/usr/bin/ln", Type: TypeHardlink, Mode: 0o755, LinkTarget: "/usr/bin/su"},
			{Path: "/" + longName, Type: TypeFile, Mode: 0o600, Size: 3},
			{Path: "/gnu/" + strings.Repeat("g", 150), Type: TypeFile, Mode: 0o644, Size: 3},
			{Path: "/dev/null", Type: TypeChar, Mode: 0o666},
			{Path: "/run/fifo", Type: TypeFifo, Mode: 0o600},
			{Path: "/dev/sda", Type: TypeBlock, Mode: 0o660},
			{Path: "../escape", Type: TypeFile, Mode: 0o644, Size: 1, Escapes: true},
			{Path: "/etc/shadow-link", Type: TypeHardlink, Mode: 0o755, LinkTarget: "../../etc/shadow", Escapes: true},
		},
		Whiteouts:        []string{"/var/cache/old"},
		OpaqueDirs:       []string{"/var/lib"},
		UncompressedSize: int64(len(tarBytes)),
	}
	tests := []struct {
		name string
		blob []byte
	}{
		{"tar", tarBytes},
		{"gzip", gzipOf(t, tarBytes)},
		{"zstd", zstdOf(t, tarBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := descOf(tt.blob, tarBytes)
			got, err := ReadLayer(context.Background(), slowReader{bytes.NewReader(tt.blob), 777}, d, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			w := *want
			w.Digest, w.DiffID, w.Size = d.Digest, d.DiffID, d.Size
			if diff := cmp.Diff(&w, got); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
		})
	}
}

// setTarSize rewrites the size field of the tar header at off and its checksum.
func setTarSize(b []byte, off int, size int64) []byte {
	b = bytes.Clone(b)
	h := b[off : off+512]
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func TestReadLayerErrors(t *testing.T) {
	tarBytes := tarOf(t, dir("etc/", 0o755), file("etc/a", 0o644, strings.Repeat("a", 5000)), file("etc/b", 0o644, "b"))
	gz := gzipOf(t, tarBytes)
	zst := zstdOf(t, tarBytes)
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		for i := at; i < at+16 && i < len(b); i++ {
			b[i] ^= 0x5a
		}
		return b
	}
	// A header that claims more bytes than the tar holds, and one that claims fewer.
	longer := setTarSize(tarBytes, 512, 1<<20)
	shorter := setTarSize(tarBytes, 512, 100)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	type check func(t *testing.T, err error)
	limit := func(name string) check {
		return func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != name {
				t.Fatalf("err = %v, want a LimitError on %s", err, name)
			}
		}
	}
	format := func(what, text string) check {
		return func(t *testing.T, err error) {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.What != what || !strings.Contains(err.Error(), text) {
				t.Fatalf("err = %v, want a FormatError of %s saying %q", err, what, text)
			}
		}
	}
	mismatch := func(what string) check {
		return func(t *testing.T, err error) {
			var me *DigestMismatchError
			if !errors.As(err, &me) || me.What != what {
				t.Fatalf("err = %v, want a DigestMismatchError of %s", err, what)
			}
		}
	}
	tests := []struct {
		name   string
		ctx    context.Context
		blob   []byte
		desc   func(Descriptor) Descriptor
		limits Limits
		check  check
	}{
		{name: "entries", blob: gz, limits: Limits{MaxEntries: 2}, check: limit("entries")},
		{name: "path length", blob: gz, limits: Limits{MaxPathLength: 4}, check: limit("path length")},
		{name: "layer size declared", blob: gz, limits: Limits{MaxLayerSize: 100}, check: limit("layer size")},
		{name: "layer size unknown", blob: gz, desc: func(d Descriptor) Descriptor { d.Size = 0; return d }, limits: Limits{MaxLayerSize: 100, MaxUncompressedSize: 1 << 30}, check: limit("layer size")},
		{name: "uncompressed size", blob: gz, limits: Limits{MaxLayerSize: 1 << 20, MaxUncompressedSize: 4096}, check: limit("uncompressed size")},
		{name: "truncated gzip", blob: gz[:len(gz)/2], desc: func(d Descriptor) Descriptor { d.Size = 0; return d }, check: format("gzip stream", "unexpected EOF")},
		{name: "corrupt gzip", blob: flip(gz, 20), check: format("gzip stream", "")},
		{name: "gzip trailer", blob: flip(gz, len(gz)-8), check: format("gzip stream", "")},
		{name: "truncated zstd", blob: zst[:len(zst)/2], desc: func(d Descriptor) Descriptor { d.Size = 0; return d }, check: format("zstd stream", "")},
		{name: "corrupt zstd", blob: flip(zst, 10), check: format("zstd stream", "")},
		{name: "tar header claims more", blob: gzipOf(t, longer), check: format("gzip stream", "unexpected EOF")},
		{name: "tar header claims less", blob: shorter, check: format("tar", "invalid tar header")},
		{name: "truncated tar", blob: tarBytes[:1000], desc: func(d Descriptor) Descriptor { d.Size = 0; return d }, check: format("tar", "unexpected EOF")},
		{name: "blob longer than declared", blob: gz, desc: func(d Descriptor) Descriptor { d.Size -= 10; return d }, check: format("blob", "longer than")},
		{name: "blob shorter than declared", blob: gz, desc: func(d Descriptor) Descriptor { d.Size += 10; return d }, check: format("blob", "declares")},
		{name: "compressed digest", blob: gz, desc: func(d Descriptor) Descriptor { d.Digest = sha([]byte("other")); return d }, check: mismatch("compressed blob")},
		{name: "diffID", blob: gz, desc: func(d Descriptor) Descriptor { d.DiffID = sha([]byte("other")); return d }, check: mismatch("uncompressed tar (diffID)")},
		{name: "bad digest", blob: gz, desc: func(d Descriptor) Descriptor { d.Digest = "md5:abc"; return d }, check: format("digest", "unsupported")},
		{name: "cancelled", ctx: cancelled, blob: gz, check: func(t *testing.T, err error) {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := descOf(tt.blob, tarBytes)
			if tt.desc != nil {
				d = tt.desc(d)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			l, err := ReadLayer(ctx, bytes.NewReader(tt.blob), d, tt.limits)
			if err == nil {
				t.Fatalf("no error; layer has %d entries", len(l.Entries))
			}
			tt.check(t, err)
			if !strings.Contains(err.Error(), "layer ") {
				t.Errorf("error %q does not name the layer", err)
			}
		})
	}
}

// A context cancelled while the body is being read stops the read.
func TestReadLayerCancelledMidStream(t *testing.T) {
	tarBytes := tarOf(t, file("a", 0o644, strings.Repeat("a", 1<<20)), file("b", 0o644, "b"))
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(tarBytes), n: 4096, cancel: cancel}
	_, err := ReadLayer(ctx, r, descOf(tarBytes, tarBytes), Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r.read > 1<<19 {
		t.Errorf("read %d bytes after the cancel at 4096", r.read)
	}
}

// cancelAfter cancels after n bytes and then fails reads as an HTTP body does.
type cancelAfter struct {
	r      io.Reader
	n      int
	read   int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.read >= c.n {
		c.cancel()
		return 0, context.Canceled
	}
	n, err := c.r.Read(p[:min(len(p), 1024)])
	c.read += n
	return n, err
}
