package manifests

import (
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/cache"
	"github.com/imageconfig/imageconfig-operator/finders/history"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/summary"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

// The names below are this package's public API; the code behind them lives in
// the subpackages (session, summary) and sibling packages (cache, history).
// They are aliases, so a value of one is a value of the other.

// Summary is what was resolved, in the shape of the ImageConfig status (summary.Summary).
type Summary = summary.Summary

// BaseImage names the image an image was built on (summary.BaseImage).
type BaseImage = summary.BaseImage

// IndexEntry is one entry of an image index (summary.IndexEntry).
type IndexEntry = summary.IndexEntry

// BuildConfig summarises an image config blob (summary.BuildConfig).
type BuildConfig = summary.BuildConfig

// Layer is one layer, joined to its history entry (summary.Layer).
type Layer = summary.Layer

// The OCI annotations that name the image an image was built on.
const (
	// BaseNameAnnotation is the base image's reference.
	BaseNameAnnotation = summary.BaseNameAnnotation
	// BaseDigestAnnotation is the base image's digest.
	BaseDigestAnnotation = summary.BaseDigestAnnotation
)

// Sessions caches authenticated registry clients between resolutions
// (session.Cache): a re-check within its TTL skips the authentication handshake.
type Sessions = session.Cache

// NewSessions returns a cache that keeps a client for ttl after it was created,
// and at most max clients (session.NewCache).
func NewSessions(ttl time.Duration, max int) *Sessions { return session.NewCache(ttl, max) }

// Observer is told what a resolution does, for metrics (session.Observer).
type Observer = session.Observer

// RateLimitInfo is what a registry said about its pull quota (session.RateLimitInfo).
type RateLimitInfo = session.RateLimitInfo

// Content is the content cache that Shared fills and reads (cache.Content).
type Content = cache.Content

// NewContent returns a content cache that holds at most maxBytes; zero or
// less disables it (cache.NewContent).
func NewContent(maxBytes int64) *Content { return cache.NewContent(maxBytes) }

// Step is one build-history step (history.Step).
type Step = history.Step

// DockerfileLine renders a history entry's createdBy as the Dockerfile line it
// came from (history.DockerfileLine).
func DockerfileLine(createdBy, comment string) string {
	return history.DockerfileLine(createdBy, comment)
}

// History lists an image's build steps in order, empty-layer steps included,
// from its config blob and summarised layers (history.History).
func History(rawConfig []byte, layers []Layer) ([]Step, error) {
	in := make([]history.Layer, len(layers))
	for i, l := range layers {
		in[i] = history.Layer{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size}
	}
	return history.History(rawConfig, in)
}

// FormatSize is format.Size (binary units), kept for callers of this package.
func FormatSize(n int64) string { return format.Size(n) }
