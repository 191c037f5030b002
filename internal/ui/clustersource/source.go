// Package clustersource gives the UI the ImageConfigs of a cluster from a
// controller-runtime reader: in the manager, its informer cache, so that a page
// costs no API request. It reads ImageConfigs and nothing else, never Secrets.
package clustersource

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// Source is a ui.Source over a reader such as mgr.GetCache().
type Source struct {
	// Reader reads ImageConfigs.
	Reader client.Reader
}

// List returns every ImageConfig in the reader.
func (s Source) List(ctx context.Context) ([]ui.Item, error) {
	var list imagesv1alpha1.ImageConfigList
	if err := s.Reader.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing ImageConfigs: %w", err)
	}
	items := make([]ui.Item, len(list.Items))
	for i := range list.Items {
		items[i] = ui.Item{Object: list.Items[i]}
	}
	return items, nil
}

// Get returns one ImageConfig; an error wrapping ui.ErrNotFound when there is none.
func (s Source) Get(ctx context.Context, namespace, name string) (*ui.Item, error) {
	var obj imagesv1alpha1.ImageConfig
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ImageConfig %s/%s: %w", namespace, name, ui.ErrNotFound)
		}
		return nil, fmt.Errorf("reading ImageConfig %s/%s: %w", namespace, name, err)
	}
	return &ui.Item{Object: obj}, nil
}
