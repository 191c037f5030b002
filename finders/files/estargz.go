package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/stargz-snapshotter/estargz"
)

// TOCDigestAnnotation is the layer annotation that names an eStargz layer's TOC digest.
const TOCDigestAnnotation = estargz.TOCJSONDigestAnnotation

// maxTOCSize bounds the compressed TOC fetched by the fast path; a larger one
// is listed from the whole stream instead.
const maxTOCSize = 32 << 20

// errNoFastPath sends a layer to the full stream.
type errNoFastPath struct{ reason error }

func (e *errNoFastPath) Error() string { return "no eStargz fast path: " + e.reason.Error() }
func (e *errNoFastPath) Unwrap() error { return e.reason }

// readTOC lists an eStargz layer from its table of contents with two Range
// requests: the footer, then the TOC it points to. The TOC's digest must be
// d.TOCDigest, which the manifest (verified by its digest) carries.
//
// When the registry ignores Range, it returns the open body of the whole blob
// for the caller to stream. Other failures to use the fast path are
// *errNoFastPath; a TOC that does not match its digest is a *DigestMismatchError.
func readTOC(ctx context.Context, src BlobSource, d Descriptor, lim Limits) (*Layer, io.ReadCloser, error) {
	if d.Size < estargz.FooterSize {
		return nil, nil, &errNoFastPath{fmt.Errorf("blob of %d bytes is smaller than the footer", d.Size)}
	}
	footer, body, err := src.BlobRange(ctx, d.Digest, d.Size-estargz.FooterSize, estargz.FooterSize)
	if err != nil {
		return nil, body, err
	}
	gz := new(estargz.GzipDecompressor)
	_, tocOffset, tocSize, err := gz.ParseFooter(footer)
	if err != nil {
		return nil, nil, &errNoFastPath{fmt.Errorf("footer: %w", err)}
	}
	if tocSize <= 0 {
		tocSize = d.Size - tocOffset - estargz.FooterSize
	}
	if tocOffset < 0 || tocSize <= 0 || tocOffset+tocSize > d.Size-estargz.FooterSize {
		return nil, nil, &FormatError{Layer: d.Digest, What: "eStargz footer", Err: fmt.Errorf("TOC at %d+%d does not fit a blob of %d bytes", tocOffset, tocSize, d.Size)}
	}
	if tocSize > maxTOCSize {
		return nil, nil, &errNoFastPath{fmt.Errorf("TOC of %d bytes is over %d", tocSize, maxTOCSize)}
	}
	raw, body, err := src.BlobRange(ctx, d.Digest, tocOffset, tocSize)
	if err != nil {
		return nil, body, err
	}
	toc, got, err := gz.ParseTOC(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, &FormatError{Layer: d.Digest, What: "eStargz TOC", Err: err}
	}
	if got.String() != d.TOCDigest {
		return nil, nil, &DigestMismatchError{Layer: d.Digest, What: "eStargz TOC", Want: d.TOCDigest, Got: got.String()}
	}
	l := &Layer{Digest: d.Digest, DiffID: d.DiffID, MediaType: d.MediaType, Size: d.Size, Source: SourceEStargz, TOCDigest: d.TOCDigest}
	n := 0
	for _, e := range toc.Entries {
		var t Type
		switch e.Type {
		case "reg":
			t = TypeFile
		case "dir":
			t = TypeDir
		case "symlink":
			t = TypeSymlink
		case "hardlink":
			t = TypeHardlink
		case "char":
			t = TypeChar
		case "block":
			t = TypeBlock
		case "fifo":
			t = TypeFifo
		default:
			continue // "chunk": more of the file before it
		}
		if n++; n > lim.MaxEntries {
			return nil, nil, &LimitError{Layer: d.Digest, Limit: "entries", Value: int64(n), Max: int64(lim.MaxEntries)}
		}
		if len(e.Name) > lim.MaxPathLength || len(e.LinkName) > lim.MaxPathLength {
			return nil, nil, &LimitError{Layer: d.Digest, Limit: "path length", Value: int64(max(len(e.Name), len(e.LinkName))), Max: int64(lim.MaxPathLength), Path: e.Name}
		}
		entry := Entry{Type: t, Mode: Mode(e.Mode) & 07777, UID: e.UID, GID: e.GID}
		if t == TypeFile {
			entry.Size = e.Size
		}
		if err := l.addEntry(entry, e.Name, e.LinkName, true); err != nil {
			return nil, nil, err
		}
	}
	return l, nil, nil
}

// isFastPathMiss tells a reason to stream the layer instead from a failure.
func isFastPathMiss(err error) bool {
	var nf *errNoFastPath
	return errors.As(err, &nf)
}
