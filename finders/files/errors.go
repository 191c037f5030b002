package files

import (
	"errors"
	"fmt"
)

// DigestMismatchError is a layer whose bytes do not match the digest the
// manifest (compressed) or the config (uncompressed diffID) declares, or an
// eStargz TOC that does not match its annotation.
type DigestMismatchError struct {
	// Layer is the layer's compressed digest.
	Layer string
	// What is "compressed blob", "uncompressed tar (diffID)" or "eStargz TOC".
	What string
	// Want is the declared digest; Got the digest of what was read.
	Want, Got string
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("layer %s: %s digest mismatch: declared %s, read %s", e.Layer, e.What, e.Want, e.Got)
}

// LimitError is a layer over one of the Limits.
type LimitError struct {
	// Layer is the layer's compressed digest.
	Layer string
	// Limit names the limit: "entries", "path length", "layer size" or "uncompressed size".
	Limit string
	// Max is the limit; Value what the layer has (at least).
	Max, Value int64
	// Path is the offending entry for a path-length error.
	Path string
}

func (e *LimitError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("layer %s: %s %d over the limit of %d: %.80q…", e.Layer, e.Limit, e.Value, e.Max, e.Path)
	}
	return fmt.Sprintf("layer %s: %s %d over the limit of %d", e.Layer, e.Limit, e.Value, e.Max)
}

// FormatError is a layer that is not a valid (compressed) tar: corrupt or
// truncated gzip or zstd, a tar header that lies about sizes, a bad TOC.
type FormatError struct {
	// Layer is the layer's compressed digest.
	Layer string
	// What says which part failed, such as "gzip stream" or "tar".
	What string
	// Err is the underlying error.
	Err error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("layer %s: invalid %s: %v", e.Layer, e.What, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrRangeIgnored is returned by a BlobSource whose registry answered a Range
// request with the whole blob.
var ErrRangeIgnored = errors.New("the registry ignored the Range request")
