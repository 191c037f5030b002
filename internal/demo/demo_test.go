package demo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/demo"
)

// TestNextTag checks what docs/cli.md and make dev promise: 1.1 differs from 1.0
// in its top layer and in HELLO_VERSION, and in nothing else but the digests.
func TestNextTag(t *testing.T) {
	ctx := context.Background()
	reg, err := demo.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	resolve := func(tag string) *manifests.Result {
		res, err := manifests.Resolve(ctx, manifests.Options{Registry: reg.Addr, Repository: demo.Repository, Tag: tag, Network: manifests.Network{Insecure: true}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	c := compare.Compare(resolve(demo.Tag), resolve(demo.NextTag))
	if c.Digest == nil || c.ManifestDigest == nil || c.ConfigDigest == nil {
		t.Errorf("digests did not change: %+v", c)
	}
	c.Digest, c.ManifestDigest, c.ConfigDigest = nil, nil, nil
	// The size change depends on gzip's output, which is not the point here.
	got := c.Summary()
	if !strings.HasPrefix(got, "base unchanged, 1 layer replaced (") || !strings.HasSuffix(got, "), env HELLO_VERSION 1.0.0 → 1.1.0") ||
		c.Layers.KeptCount != 3 || len(c.Layers.Added) != 1 || c.Layers.Added[0].CreatedBy != "COPY config.yaml /app/config.yaml # buildkit" {
		t.Errorf("1.0 → 1.1: %q, layers %+v", got, c.Layers)
	}
}
