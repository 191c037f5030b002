package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// DefaultIndexTimeout bounds one image's indexing by Shared.
const DefaultIndexTimeout = 10 * time.Minute

// DefaultImageConcurrency is how many images Shared indexes at once.
const DefaultImageConcurrency = 2

// maxFailures bounds the terminal failures Shared remembers.
const maxFailures = 1024

// ErrNotIndexed is returned by Shared.Cached for an image whose index is not
// (or no longer) in the cache.
var ErrNotIndexed = errors.New("the image's layers are not in the index cache")

// Resolution is what Shared.Index needs of an image: the options that resolved
// it (credentials, transport, network policy) and a result that carries its raw
// platform manifest and config.
type Resolution struct {
	Options manifests.Options
	Result  *manifests.Result
}

// Shared indexes images for many callers, such as the objects of a manager:
//   - concurrent calls for one platform manifest digest share one indexing,
//     which runs detached from the callers' cancellation, bounded by Timeout;
//   - layers come from the Indexer's Cache by diffID, so a layer shared by
//     images is streamed once, and the image's layer descriptors are cached
//     too, so Cached merges the full index again without a registry;
//   - a terminal failure (a digest mismatch, a limit, a corrupt layer) is
//     remembered per digest and answered without a request.
type Shared struct {
	// Indexer indexes the layers; its Cache should be set.
	Indexer *Indexer
	// Timeout bounds one image's indexing; zero is DefaultIndexTimeout.
	Timeout time.Duration
	// MaxImages bounds the images indexed at once (each with the Indexer's
	// Concurrency of layers), so a fleet of new digests does not open a stream
	// per layer of every image; zero is DefaultImageConcurrency.
	MaxImages int

	flight  singleflight.Group
	semOnce sync.Once
	sem     chan struct{}
	mu      sync.Mutex
	failed  map[string]error
	// joined, when set (tests), is called once a caller waits on the flight of digest.
	joined func(digest string)
}

// Index returns the merged index of the image whose platform manifest is
// digest. fetch is called (once for concurrent callers) only when there is no
// remembered terminal failure for digest; its result must carry the raw
// manifest and config.
func (s *Shared) Index(ctx context.Context, digest string, fetch func(context.Context) (*Resolution, error)) (*View, error) {
	if err := s.failure(digest); err != nil {
		return nil, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultIndexTimeout
	}
	ch := s.flight.DoChan(digest, func() (any, error) {
		s.semOnce.Do(func() {
			n := s.MaxImages
			if n <= 0 {
				n = DefaultImageConcurrency
			}
			s.sem = make(chan struct{}, n)
		})
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		v, err := s.index(fctx, digest, fetch)
		if err != nil && Terminal(err) {
			s.remember(digest, err)
		}
		return v, err
	})
	if s.joined != nil {
		s.joined(digest)
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("indexing the layers of %s: %w", digest, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*View), nil
	}
}

func (s *Shared) index(ctx context.Context, digest string, fetch func(context.Context) (*Resolution, error)) (*View, error) {
	r, err := fetch(ctx)
	if err != nil {
		return nil, err
	}
	res := r.Result
	if res == nil || res.RawManifest == nil || res.RawConfig == nil {
		return nil, fmt.Errorf("%s: the resolution carries no manifest and config to index", digest)
	}
	descs, err := Descriptors(res.RawManifest, res.RawConfig)
	if err != nil {
		return nil, &FormatError{Layer: digest, What: "manifest or config", Err: err}
	}
	src, err := ConnectResolved(ctx, r.Options, res)
	if err != nil {
		return nil, err
	}
	layers, err := s.Indexer.Layers(ctx, src, descs)
	if err != nil {
		return nil, err
	}
	s.Indexer.Cache.PutImage(digest, descs)
	return Merge(layers), nil
}

// Cached merges the index of digest from the cache alone, without a registry
// request; ErrNotIndexed when the image or one of its layers is not there.
func (s *Shared) Cached(digest string) (*View, error) {
	c := s.Indexer.Cache
	descs := c.GetImage(digest)
	if descs == nil {
		return nil, fmt.Errorf("%s: %w", digest, ErrNotIndexed)
	}
	layers := make([]*Layer, len(descs))
	for i, d := range descs {
		if layers[i] = c.Get(d); layers[i] == nil {
			return nil, fmt.Errorf("%s: layer %d (%s) was evicted: %w", digest, i, d.Digest, ErrNotIndexed)
		}
	}
	return Merge(layers), nil
}

// Terminal reports whether indexing failed in a way that trying again cannot
// fix: a digest mismatch, a limit, or a layer that is not a valid tar.
func Terminal(err error) bool {
	var dm *DigestMismatchError
	var le *LimitError
	var fe *FormatError
	return errors.As(err, &dm) || errors.As(err, &le) || errors.As(err, &fe)
}

func (s *Shared) failure(digest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed[digest]
}

func (s *Shared) remember(digest string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = map[string]error{}
	}
	if len(s.failed) >= maxFailures {
		for k := range s.failed { // forget one at random
			delete(s.failed, k)
			break
		}
	}
	s.failed[digest] = err
}
