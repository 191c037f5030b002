package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// listReader lists its objects as controller-runtime's cache reader does with
// UnsafeDisableDeepCopy: each cached struct copied into the list's Items.
type listReader struct {
	client.Reader
	objs []runtime.Object
}

func (r listReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	return apimeta.SetList(list, r.objs)
}

// storeReader is an informer cache reduced to what eachImageConfig uses.
type storeReader struct {
	listReader
	informer storeInformer
}

func (r storeReader) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return r.informer, nil
}

type storeInformer struct {
	cache.Informer
	store  toolscache.Store
	synced bool
}

func (i storeInformer) GetStore() toolscache.Store { return i.store }
func (i storeInformer) HasSynced() bool            { return i.synced }

// scrapeFleet returns n ImageConfigs over 10 namespaces, every seventh with
// BaseImageOutdated=True, and their expected gauge values by namespace.
func scrapeFleet(t testing.TB, n int) ([]runtime.Object, toolscache.Store, map[string]float64) {
	t.Helper()
	objs := make([]runtime.Object, n)
	store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	want := map[string]float64{}
	for i := range objs {
		o := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("team-%d", i%10), Name: fmt.Sprintf("app-%05d", i)}}
		want[o.Namespace] += 0
		if i%7 == 0 {
			o.Status.Conditions = []metav1.Condition{{Type: imagesv1alpha1.BaseImageOutdatedCondition, Status: metav1.ConditionTrue}}
			want[o.Namespace]++
		}
		objs[i] = o
		if err := store.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return objs, store, want
}

func gatherBaseOutdated(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got
}

// TestBaseOutdatedReaders: the gauge counts alike from an informer's store, from
// an informer that has not synced yet (then it lists), and from a plain reader.
func TestBaseOutdatedReaders(t *testing.T) {
	objs, store, want := scrapeFleet(t, 700)
	list := listReader{objs: objs}
	// Each reader holds the objects only where it should read them, so a
	// wrong path counts nothing.
	for name, reader := range map[string]client.Reader{
		"informer store":    storeReader{informer: storeInformer{store: store, synced: true}},
		"informer unsynced": storeReader{listReader: list, informer: storeInformer{store: toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)}},
		"plain reader":      list,
	} {
		reg := prometheus.NewRegistry()
		if err := RegisterSupplyChainMetrics(reg, reader); err != nil {
			t.Fatal(err)
		}
		got := gatherBaseOutdated(t, reg)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: imageconfig_base_outdated_objects = %v, want %v", name, got, want)
		}
	}
}

// BenchmarkBaseOutdatedScrape measures one scrape of
// imageconfig_base_outdated_objects over 10,000 cached ImageConfigs: read in
// place from the informer's store, or listed (each object copied).
func BenchmarkBaseOutdatedScrape(b *testing.B) {
	objs, store, _ := scrapeFleet(b, 10000)
	list := listReader{objs: objs}
	for name, reader := range map[string]client.Reader{
		"informer-store": storeReader{listReader: list, informer: storeInformer{store: store, synced: true}},
		"list":           list,
	} {
		b.Run(name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			if err := RegisterSupplyChainMetrics(reg, reader); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
