package files

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
)

// DefaultConcurrency is how many layers of one image are indexed at once.
const DefaultConcurrency = 3

// Indexer indexes layers: from its cache, from an eStargz TOC, or by
// streaming the whole blob.
type Indexer struct {
	// Limits bound each layer.
	Limits Limits
	// Cache, when set, keeps layer indexes by diffID.
	Cache *Cache
	// Concurrency bounds the layers indexed at once; zero is DefaultConcurrency.
	Concurrency int
}

// Layer indexes one layer.
func (ix *Indexer) Layer(ctx context.Context, src BlobSource, d Descriptor) (*Layer, error) {
	lim := ix.Limits.withDefaults()
	if l := ix.Cache.Get(d); l != nil {
		return l, nil
	}
	if d.Size > lim.MaxLayerSize {
		return nil, &LimitError{Layer: d.Digest, Limit: "layer size", Value: d.Size, Max: lim.MaxLayerSize}
	}
	var body io.ReadCloser
	if d.TOCDigest != "" {
		l, rest, err := readTOC(ctx, src, d, lim)
		switch {
		case err == nil:
			ix.Cache.Put(l)
			return l, nil
		case errors.Is(err, ErrRangeIgnored) && rest != nil:
			body = rest // the whole blob is already on its way
		case !isFastPathMiss(err):
			return nil, err
		}
	}
	if body == nil {
		var err error
		if body, err = src.Blob(ctx, d.Digest); err != nil {
			return nil, err
		}
	}
	defer body.Close()
	l, err := ReadLayer(ctx, body, d, lim)
	if err != nil {
		return nil, err
	}
	ix.Cache.Put(l)
	return l, nil
}

// Layers indexes the layers of one image, at most Concurrency at once. On the
// first error the others are cancelled, and every worker has returned when
// Layers does.
func (ix *Indexer) Layers(ctx context.Context, src BlobSource, ds []Descriptor) ([]*Layer, error) {
	out := make([]*Layer, len(ds))
	g, ctx := errgroup.WithContext(ctx)
	n := ix.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	g.SetLimit(n)
	for i, d := range ds {
		g.Go(func() error {
			l, err := ix.Layer(ctx, src, d)
			if err != nil {
				return fmt.Errorf("layer %d: %w", i, err)
			}
			out[i] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
