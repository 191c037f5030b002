// Package manifests resolves a container image reference through a registry's
// manifest chain (tag, image index, platform manifest, config blob) and
// summarises the image's build config.
//
// It is independent of Kubernetes: it takes plain inputs, returns plain structs
// and typed errors (*Error), and every registry request of the project lives here.
// The protocol work (reference parsing, the WWW-Authenticate challenge and token
// exchange, retries) is go-containerregistry's; this package adds what an
// operator needs on top: HTTPS enforcement, size bounds, digest verification,
// cheap HEAD re-checks, platform selection and a history-joined layer view.
//
// This package walks the chain and fetches; one job each lives below it:
// session (the authenticated HTTP client and its cache), flight (one call for
// concurrent callers), mediatype (what a manifest body is) and summary (the
// status-shaped Summary of a manifest and config).
package manifests

import (
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// DefaultRegistry is the registry used when Options.Registry is empty.
const DefaultRegistry = "registry-1.docker.io"

// Size bounds. Declared sizes are checked before a body is read, and reads stop at the bound.
const (
	// MaxManifestSize bounds a manifest or index body.
	MaxManifestSize = 4 << 20
	// MaxConfigSize bounds a config blob.
	MaxConfigSize = 8 << 20
)

// Options are the inputs of one resolution. The reference (what to resolve)
// is at the top level; how to reach the registry, which credentials to send and
// what is kept between resolutions are each a small struct of their own, whose
// zero value is the default: HTTPS to anywhere with a one-minute timeout,
// anonymous, and nothing kept.
type Options struct {
	// Registry is the registry host with an optional port, without a scheme.
	// Empty means DefaultRegistry. "docker.io", "index.docker.io" and
	// "registry-1.docker.io" all name Docker Hub.
	Registry string

	// Repository is the repository path. On Docker Hub, "nginx" means "library/nginx".
	Repository string

	// Tag is the tag to resolve. Empty with an empty Digest means "latest".
	Tag string

	// Digest pins the content. Tag and Digest are mutually exclusive.
	Digest string

	// Platform selects an index entry. Empty OS and Architecture mean linux/amd64.
	Platform platforms.Platform

	// Previous is the result of an earlier resolution of the same reference. When the
	// tag still points to Previous.Digest, a single HEAD request confirms it and
	// Previous is returned without any GET.
	Previous *Result

	// Network is how to reach the registry: plain HTTP or not, the base
	// transport, where requests may go, the timeout and retries.
	Network Network

	// Auth is the credentials to send.
	Auth Auth

	// Cache is what is kept between resolutions: authenticated sessions and,
	// for Shared, the registry's recent answer for the tag.
	Cache Cache

	// Observer is told about requests, rate limits and cache lookups, for metrics.
	// Nil means nothing is observed.
	Observer Observer
}

// Network is how a resolution reaches the registry.
type Network struct {
	// Insecure allows plain HTTP. Without it every request must use HTTPS,
	// including for localhost and private addresses.
	Insecure bool

	// Transport is the base HTTP transport, for TLS settings and tests.
	// Nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper

	// Policy, when set, says where requests may go: the registry, redirect targets
	// and token realms must match its host list, and no connection is dialled to
	// its denied networks. Nil allows everything. It is the manager's
	// --allowed-registries and --denied-networks.
	Policy *netpolicy.Policy

	// Timeout bounds the whole resolution, authentication included. Zero means
	// DefaultTimeout (one minute).
	Timeout time.Duration

	// RetryBackoff overrides go-containerregistry's retry backoff within one resolution
	// (by default 3 tries, 1 s and 3 s apart). Tests use it to keep fault injection fast.
	RetryBackoff *transport.Backoff

	// UserAgent is sent with every request.
	UserAgent string
}

// Auth is the credentials of a resolution. The first field that is set is
// used; none means anonymous.
type Auth struct {
	// Authenticator authenticates to the registry.
	Authenticator authn.Authenticator

	// Keychain resolves credentials for the repository when Authenticator is nil.
	Keychain authn.Keychain

	// Sources are tried in order when Authenticator and Keychain are nil; the
	// first with credentials for the repository is used and named in
	// Result.AuthSource.
	Sources auth.Sources
}

// Cache is what a resolution keeps and reuses between resolutions. Shared
// also keeps a content cache, configured once in SharedOptions.
type Cache struct {
	// Sessions, when set, keeps authenticated transports between resolutions, so a
	// re-check within its TTL skips the authentication handshake.
	Sessions *Sessions

	// HeadWindow is used by Shared: for how long the registry's answer for the tag
	// (its digest), got by any resolution with the same registry, repository,
	// credentials and transport, is reused without asking again. Zero always asks.
	HeadWindow time.Duration
}

// Result is the outcome of a resolution.
type Result struct {
	Summary

	// RawConfig is the config blob exactly as the registry served it.
	// It is nil when the result was confirmed from Options.Previous by a HEAD request.
	RawConfig []byte `json:"-"`
	// RawManifest is the platform manifest exactly as the registry served it; nil like RawConfig.
	RawManifest []byte `json:"-"`
	// RawIndex is the image index exactly as the registry served it, for a multi-platform
	// image; nil for a single-platform image and like RawConfig.
	RawIndex []byte `json:"-"`
	// Unchanged is true when a HEAD request confirmed Options.Previous.
	Unchanged bool `json:"-"`
	// CheckedAt is when the registry answered for the tag: during this resolution,
	// or earlier when Shared reused a recent answer within Options.Cache.HeadWindow.
	// It is zero when the resolution did not record it.
	CheckedAt time.Time `json:"-"`
	// RateLimit is the last pull quota a registry reported during this resolution,
	// or nil when no response carried rate-limit headers.
	RateLimit *RateLimitInfo `json:"-"`
}
