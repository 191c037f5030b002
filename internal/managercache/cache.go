// Package managercache configures the manager's informer cache for a fleet of
// ImageConfigs: which objects this manager holds (its shard, by label, with a
// leader-election ID of its own), and how little it keeps of each (the
// transform drops what the manager never reads and shares what the objects on
// one image hold alike). The reconciler in controllers reads through it.
package managercache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// ShardLabel is the label that assigns an ImageConfig to a shard, as Flux's
// sharding.fluxcd.io/key does: a shard runs with
// --watch-label-selector=sharding.imageconfig.dev/key=shard1, the main instance
// with --watch-label-selector='!sharding.imageconfig.dev/key'.
const ShardLabel = "sharding.imageconfig.dev/key"

// ParseWatchSelector parses the --watch-label-selector flag. Empty selects
// every object and returns nil.
func ParseWatchSelector(s string) (labels.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--watch-label-selector %q is not a label selector: %w", s, err)
	}
	return sel, nil
}

// CacheOptions are the manager's informer cache options: managedFields are
// stripped from every cached object (they are never read, and are a large part
// of an object written by several managers); ImageConfigs are slimmed further
// (slimImageConfig); and, with a selector, the ImageConfig informer holds only
// the objects it selects, so this manager resolves only those.
func CacheOptions(selector labels.Selector) cache.Options {
	byObject := cache.ByObject{Transform: slimImageConfig}
	if selector != nil && !selector.Empty() {
		byObject.Label = selector
	}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&imagesv1alpha1.ImageConfig{}: byObject},
	}
}

// LeaderElectionID returns base for the unsharded manager, and base with a
// short hash of the selector for a shard, so that every shard elects its own
// leader.
func LeaderElectionID(base string, selector labels.Selector) string {
	if selector == nil || selector.Empty() {
		return base
	}
	sum := sha256.Sum256([]byte(selector.String()))
	return base + "-" + hex.EncodeToString(sum[:])[:8]
}
