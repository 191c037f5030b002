package supplychain

import (
	"context"
	"errors"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// errNotImplemented is returned until the implementation lands.
var errNotImplemented = errors.New("supplychain: not implemented yet")

// CheckBase reports whether img was built on its base's current digest.
//
// The base is BaseOptions.Ref when set, else the image's base annotations
// (img.BaseImage). It returns nil, nil when no base is known.
// Errors are typed *manifests.Error: a base name that does not parse, or a host
// the network policy denies, is returned before any request. A recorded digest
// may be either the base's index digest or its platform manifest digest.
func CheckBase(ctx context.Context, img *manifests.Result, o BaseOptions) (*BaseCheck, error) {
	return nil, errNotImplemented
}

// ListReferrers lists what is attached to o.Subjects: the OCI 1.1 referrers
// API (or its tag-schema fallback when the API answers 404), cosign's tags and
// BuildKit attestation manifests in o.Index. At most o.Max entries are kept.
func ListReferrers(ctx context.Context, o ReferrersOptions) (*Referrers, error) {
	return nil, errNotImplemented
}
