package clustersource_test

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
	"github.com/imageconfig/imageconfig-operator/internal/ui/clustersource"
)

func TestSource(t *testing.T) {
	objs := []*imagesv1alpha1.ImageConfig{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "one"}, Spec: imagesv1alpha1.ImageConfigSpec{Repository: "nginx"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "two"}, Spec: imagesv1alpha1.ImageConfigSpec{Repository: "redis"}},
	}
	b := fake.NewClientBuilder().WithScheme(testenv.Scheme())
	for _, o := range objs {
		b = b.WithObjects(o)
	}
	s := clustersource.Source{Reader: b.Build()}
	var _ ui.Source = s

	items, err := s.List(context.Background())
	if err != nil || len(items) != 2 {
		t.Fatalf("List = %d items, %v", len(items), err)
	}
	it, err := s.Get(context.Background(), "b", "two")
	if err != nil || it.Object.Spec.Repository != "redis" {
		t.Fatalf("Get = %+v, %v", it, err)
	}
	if _, err := s.Get(context.Background(), "a", "two"); !errors.Is(err, ui.ErrNotFound) {
		t.Errorf("Get of a missing object = %v, want ui.ErrNotFound", err)
	}
}
