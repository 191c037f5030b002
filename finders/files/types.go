// Package files indexes the files of an image's layers without pulling the
// image: it streams each layer blob once through decompression and reads the
// tar headers only, never storing file contents, in memory or on disk. It
// verifies the compressed digest and the uncompressed diffID while streaming,
// applies the OCI changeset rules (whiteouts, opaque directories) to build each
// layer's changeset and the merged tree with the layer that last wrote each
// path, and reports findings such as setuid files or bytes a later layer hides.
//
// An eStargz layer whose manifest names its TOC digest is listed from its
// table of contents with two HTTP Range requests instead of the whole blob.
// Layer indexes are cached on disk by diffID (Cache).
//
// The package imports no Kubernetes code; the CLI, the UI and the manager use it.
package files

import (
	"fmt"
	"strconv"
)

// Type is the kind of a tar entry.
type Type string

// Entry types.
const (
	TypeFile     Type = "file"
	TypeDir      Type = "dir"
	TypeSymlink  Type = "symlink"
	TypeHardlink Type = "hardlink"
	TypeChar     Type = "char"
	TypeBlock    Type = "block"
	TypeFifo     Type = "fifo"
)

// Mode holds the permission bits with setuid, setgid and sticky (07777).
// It marshals to JSON as an octal string such as "4755".
type Mode uint32

// Permission bits this package looks at.
const (
	ModeSetuid Mode = 04000
	ModeSetgid Mode = 02000
	ModeSticky Mode = 01000
	ModeOtherW Mode = 00002
)

// String renders the mode in octal without a leading zero, as "755" or "4755".
func (m Mode) String() string { return strconv.FormatUint(uint64(m&07777), 8) }

// MarshalJSON writes the octal string.
func (m Mode) MarshalJSON() ([]byte, error) { return []byte(`"` + m.String() + `"`), nil }

// UnmarshalJSON reads the octal string written by MarshalJSON.
func (m *Mode) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("mode %s: want an octal string", b)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 07777 {
		return fmt.Errorf("mode %q: want octal permission bits up to 7777", s)
	}
	*m = Mode(v)
	return nil
}

// Entry is one file, directory or link of a layer, from its tar header.
type Entry struct {
	// Path is absolute and clean, such as "/usr/bin/env". For a name that would
	// escape the root, it is the name as the tar gives it (see Escapes).
	Path string `json:"path"`
	// Type is the entry's kind.
	Type Type `json:"type"`
	// Mode is the permission bits with setuid, setgid and sticky.
	Mode Mode `json:"mode"`
	// Size is the file's size in bytes; 0 for anything but a regular file.
	Size int64 `json:"size"`
	// LinkTarget is a symlink's target as written, or a hard link's target as
	// an absolute clean path.
	LinkTarget string `json:"linkTarget,omitempty"`
	// UID and GID are the owner's numeric ids.
	UID int `json:"uid"`
	// GID is the group's numeric id.
	GID int `json:"gid"`
	// Escapes marks a name (or a hard link target) that would leave the root,
	// such as "../etc/passwd". It is kept as data and never placed in the tree.
	Escapes bool `json:"escapes,omitempty"`
}

// Layer is the index of one layer blob: its entries in tar order, and the
// paths it deletes from the layers below.
type Layer struct {
	// Digest is the compressed blob's digest, from the manifest.
	Digest string `json:"digest"`
	// DiffID is the uncompressed tar's digest, from the config.
	DiffID string `json:"diffID"`
	// MediaType is the layer's media type.
	MediaType string `json:"mediaType,omitempty"`
	// Size is the compressed size in bytes.
	Size int64 `json:"size"`
	// UncompressedSize is the tar's size in bytes; 0 when listed from an eStargz TOC.
	UncompressedSize int64 `json:"uncompressedSize,omitempty"`
	// Source says how the index was made: "stream" (the whole blob, verified),
	// "estargz" (the TOC, verified against the manifest's TOC digest annotation).
	Source string `json:"source"`
	// TOCDigest is the eStargz TOC digest the index was listed from.
	TOCDigest string `json:"tocDigest,omitempty"`
	// Cached is true when the index came from the Cache.
	Cached bool `json:"cached,omitempty"`
	// Entries are the layer's files, directories and links, in tar order,
	// without whiteout markers.
	Entries []Entry `json:"entries"`
	// Whiteouts are the absolute paths the layer deletes from lower layers (.wh.NAME).
	Whiteouts []string `json:"whiteouts,omitempty"`
	// OpaqueDirs are the absolute directories whose lower-layer contents the
	// layer hides (.wh..wh..opq).
	OpaqueDirs []string `json:"opaqueDirs,omitempty"`
}

// Sources of a Layer index.
const (
	SourceStream  = "stream"
	SourceEStargz = "estargz"
)

// Descriptor names a layer blob to index.
type Descriptor struct {
	// Digest is the compressed blob's digest, such as "sha256:…".
	Digest string
	// DiffID is the uncompressed tar's digest from the config's rootfs.diff_ids.
	DiffID string
	// MediaType is the layer's media type.
	MediaType string
	// Size is the compressed size the manifest declares.
	Size int64
	// TOCDigest is the eStargz TOC digest annotation; empty when there is none.
	TOCDigest string
}

// Limits bound what one layer may hold. Zero fields take the defaults.
type Limits struct {
	// MaxEntries bounds the tar entries of one layer. Default 1,000,000.
	MaxEntries int
	// MaxPathLength bounds one entry's name or link target, in bytes. Default 4096.
	MaxPathLength int
	// MaxLayerSize bounds the compressed size of a layer to index. Default 4 GiB.
	MaxLayerSize int64
	// MaxUncompressedSize bounds the tar's size. Default 8 × MaxLayerSize.
	MaxUncompressedSize int64
}

// Default limits.
const (
	DefaultMaxEntries    = 1_000_000
	DefaultMaxPathLength = 4096
	DefaultMaxLayerSize  = 4 << 30
)

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxPathLength <= 0 {
		l.MaxPathLength = DefaultMaxPathLength
	}
	if l.MaxLayerSize <= 0 {
		l.MaxLayerSize = DefaultMaxLayerSize
	}
	if l.MaxUncompressedSize <= 0 {
		l.MaxUncompressedSize = 8 * l.MaxLayerSize
	}
	return l
}

// LongMode renders the entry's type and mode as tar tv and ls -l do,
// "-rwsr-xr-x"; a hard link is "h".
func (e Entry) LongMode() string {
	b := []byte("----------")
	switch e.Type {
	case TypeDir:
		b[0] = 'd'
	case TypeSymlink:
		b[0] = 'l'
	case TypeHardlink:
		b[0] = 'h'
	case TypeChar:
		b[0] = 'c'
	case TypeBlock:
		b[0] = 'b'
	case TypeFifo:
		b[0] = 'p'
	}
	for i, c := range "rwxrwxrwx" {
		if e.Mode&(1<<(8-i)) != 0 {
			b[i+1] = byte(c)
		}
	}
	special := func(i int, bit Mode, c byte) {
		if e.Mode&bit == 0 {
			return
		}
		if b[i] == 'x' {
			b[i] = c
		} else {
			b[i] = c - 'a' + 'A'
		}
	}
	special(3, ModeSetuid, 's')
	special(6, ModeSetgid, 's')
	special(9, ModeSticky, 't')
	return string(b)
}
