package manifests

import "github.com/imageconfig/imageconfig-operator/finders/cache"

// Content is the content cache that Shared fills and reads (cache.Content).
type Content = cache.Content

// NewContent returns a content cache that holds at most maxBytes; zero or
// less disables it (cache.NewContent).
func NewContent(maxBytes int64) *Content { return cache.NewContent(maxBytes) }
