package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/api/resource"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// filesOptions are the flags of the layer file index (spec.files.index, issue 18).
type filesOptions struct {
	// CacheDir is --files-cache-dir.
	CacheDir string
	// CacheSize is --files-cache-size, a quantity such as 512Mi.
	CacheSize string
	// MaxLayerSize is --files-max-layer-size, a quantity such as 4Gi.
	MaxLayerSize string
}

// defaultFilesCacheDir is --files-cache-dir's default: under the temporary
// directory, for a manager run as a local process; the Deployment mounts an
// emptyDir and names it.
func defaultFilesCacheDir() string { return filepath.Join(os.TempDir(), "imageconfig-files") }

// bindFilesFlags registers the flags on fs.
func bindFilesFlags(fs *flag.FlagSet) *filesOptions {
	o := &filesOptions{}
	fs.StringVar(&o.CacheDir, "files-cache-dir", defaultFilesCacheDir(), "The directory of the layer file index cache (spec.files.index): layer indexes by diffID, shared by every ImageConfig. The Deployment mounts an emptyDir there.")
	fs.StringVar(&o.CacheSize, "files-cache-size", resource.NewQuantity(files.DefaultCacheSize, resource.BinarySI).String(), "The cap of the layer file index cache on disk, such as 512Mi; the least recently used indexes go first. Keep it under the emptyDir's sizeLimit.")
	fs.StringVar(&o.MaxLayerSize, "files-max-layer-size", resource.NewQuantity(files.DefaultMaxLayerSize, resource.BinarySI).String(), "The largest compressed layer the file index reads, such as 4Gi; a larger one makes FilesIndexed False with reason LayerLimitExceeded.")
	return o
}

// indexer opens the cache and returns the shared indexer of the controller and the UI.
func (o *filesOptions) indexer() (*files.Shared, error) {
	size, err := positiveQuantity("--files-cache-size", o.CacheSize)
	if err != nil {
		return nil, err
	}
	maxLayer, err := positiveQuantity("--files-max-layer-size", o.MaxLayerSize)
	if err != nil {
		return nil, err
	}
	if o.CacheDir == "" {
		return nil, fmt.Errorf("--files-cache-dir is empty: give a writable directory")
	}
	c, err := files.OpenCache(o.CacheDir, size)
	if err != nil {
		return nil, fmt.Errorf("--files-cache-dir %s: %w", o.CacheDir, err)
	}
	return &files.Shared{Indexer: &files.Indexer{Cache: c, Limits: files.Limits{MaxLayerSize: maxLayer}}}, nil
}

func positiveQuantity(flagName, v string) (int64, error) {
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return 0, fmt.Errorf("%s %q is not a positive size such as 512Mi", flagName, v)
	}
	return q.Value(), nil
}

// objectFiles serves the UI's file pages of ImageConfigs from the shared
// indexer's on-disk cache: no registry request, and no per-file list in the
// object.
type objectFiles struct{ shared *files.Shared }

// ObjectFiles merges the cached index of obj's status.manifestDigest.
func (o objectFiles) ObjectFiles(_ context.Context, obj *imagesv1alpha1.ImageConfig) (*ui.FileIndex, error) {
	v, err := o.shared.Cached(obj.Status.ManifestDigest)
	if err != nil {
		return nil, fmt.Errorf("%w (this replica has not indexed the image: the leader indexes, into its own cache)", err)
	}
	return imagestatus.FileIndex(obj.Status.ImageRef, obj.Status.Platform, v), nil
}
