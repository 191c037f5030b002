package files

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
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

// RegistryReason maps a registry failure of indexing (a blob request, the
// handshake, the network policy) to the reason manifests uses for the same
// failure of a resolution; ok is false for anything else.
func RegistryReason(err error) (reason manifests.Reason, ok bool) {
	var me *manifests.Error
	var te *transport.Error
	var na *netpolicy.NotAllowedError
	switch {
	case errors.As(err, &me):
		return me.Reason, true
	case errors.As(err, &na):
		return manifests.RegistryNotAllowed, true
	case errors.As(err, &te):
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return manifests.Unauthorized, true
		case http.StatusNotFound:
			return manifests.NotFound, true
		case http.StatusTooManyRequests:
			return manifests.RateLimited, true
		}
		return manifests.Unavailable, true
	case errors.Is(err, context.DeadlineExceeded), isNetError(err):
		return manifests.Unavailable, true
	}
	return "", false
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
