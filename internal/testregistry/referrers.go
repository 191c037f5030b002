package testregistry

import (
	"net/http"
)

// The OCI 1.1 referrers API (GET /v2/<name>/referrers/<digest>) is served by
// go-containerregistry's registry, which lists every stored manifest whose
// subject is the digest. Registries without OCI 1.1 answer it with 404: the
// reference registry distribution v3.1 (internal/refregistry) has no such
// route, nor had distribution 2.8. Options.NoReferrersAPI makes this registry
// do the same, so that clients fall back to the tag schema (sha256-<hex>),
// which go-containerregistry's remote.Write maintains when the API 404s.

// refuseReferrers answers a referrers API request with 404 when
// Options.NoReferrersAPI is set, with distribution's plain-text body.
func (r *Registry) refuseReferrers(w http.ResponseWriter, req *http.Request) bool {
	if !r.opts.NoReferrersAPI {
		return false
	}
	if _, kind, _, ok := parsePath(req.URL.Path); !ok || kind != "referrers" {
		return false
	}
	http.NotFound(w, req)
	return true
}
