package files

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tf is one tar entry of a test layer. Body is the content of a regular file;
// Size, when set, overrides the header's size (for files with generated contents).
type tf struct {
	Name     string
	Type     byte
	Mode     int64
	Link     string
	Body     string
	Size     int64
	Format   tar.Format
	Uid, Gid int
}

// file, dir, symlink, hardlink and whiteout build tf values.
func file(name string, mode int64, body string) tf {
	return tf{Name: name, Type: tar.TypeReg, Mode: mode, Body: body}
}
func dir(name string, mode int64) tf { return tf{Name: name, Type: tar.TypeDir, Mode: mode} }
func symlink(name, target string) tf {
	return tf{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}
func hardlink(name, target string) tf {
	return tf{Name: name, Type: tar.TypeLink, Mode: 0o755, Link: target}
}
func whiteout(name string) tf { return tf{Name: name, Type: tar.TypeReg, Mode: 0o644} }

// tarOf writes the entries as a tar; a regular file with Size and no Body gets
// Size bytes of a repeating pattern.
func tarOf(t testing.TB, entries ...tf) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, Uid: e.Uid, Gid: e.Gid, Format: e.Format}
		body := []byte(e.Body)
		if e.Type == tar.TypeReg {
			h.Size = int64(len(body))
			if e.Size > 0 && len(body) == 0 {
				h.Size = e.Size
				body = bytes.Repeat([]byte("0123456789abcdef"), int(e.Size/16)+1)[:e.Size]
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.Name, err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatalf("tar body %q: %v", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// descOf describes a blob whose uncompressed form is tarBytes.
func descOf(blob, tarBytes []byte) Descriptor {
	return Descriptor{Digest: sha(blob), DiffID: sha(tarBytes), Size: int64(len(blob))}
}

// slowReader hands out at most n bytes per Read.
type slowReader struct {
	r io.Reader
	n int
}

func (s slowReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// backoff is a retry backoff that does not wait.
func backoff() transport.Backoff {
	return transport.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2}
}
