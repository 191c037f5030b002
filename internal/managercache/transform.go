package managercache

import (
	"reflect"
	"sync"
	"unique"
	"unsafe"
	"weak"

	"k8s.io/apimachinery/pkg/api/equality"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// lastAppliedAnnotation is kubectl's copy of the applied object. The manager
// never reads it, and it repeats the whole spec.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// slimImageConfig is the informer cache's transform of ImageConfigs. It drops
// what the manager never reads (managedFields, kubectl's last-applied copy),
// and shares what the objects on one image hold alike:
//   - the status's build config, layers, index entries and referrers are one
//     copy per image (sharedParts), whichever objects and watch events they
//     came from;
//   - every other string of the spec and status is a canonical copy (package
//     unique): the objects on one tag hold the same digests, platforms and
//     condition messages, and the cache then keeps each of those once, as the
//     finders' shared content cache does for the bytes they came from.
//
// Cached objects are never changed in place (reads deep-copy them, and the
// metrics' uncopied list only reads), so sharing their parts is safe.
func slimImageConfig(in any) (any, error) {
	obj, ok := in.(*imagesv1alpha1.ImageConfig)
	if !ok {
		return in, nil
	}
	obj.ManagedFields = nil
	delete(obj.Annotations, lastAppliedAnnotation)
	obj.Namespace = unique.Make(obj.Namespace).Value()
	internStrings(reflect.ValueOf(&obj.Spec).Elem())
	cacheParts.share(&obj.Status)
	return obj, nil
}

// cacheParts is the informer cache's table of shared status parts.
var cacheParts = newSharedParts()

// sharedParts holds, by digest, one copy of each status part that objects on
// one image hold alike. It holds them weakly: a part that no cached object
// refers to any more is collected, and its entry swept.
type sharedParts struct {
	mu        sync.Mutex
	configs   weakTable[imagesv1alpha1.ImageBuildConfig]
	referrers weakTable[imagesv1alpha1.ReferrersStatus]
	layers    weakTable[imagesv1alpha1.Layer]
	platforms weakTable[imagesv1alpha1.IndexEntry]
}

func newSharedParts() *sharedParts {
	return &sharedParts{
		configs:   weakTable[imagesv1alpha1.ImageBuildConfig]{},
		referrers: weakTable[imagesv1alpha1.ReferrersStatus]{},
		layers:    weakTable[imagesv1alpha1.Layer]{},
		platforms: weakTable[imagesv1alpha1.IndexEntry]{},
	}
}

// share replaces st's parts by the table's copies when they are equal, and
// makes st's own parts the table's copies otherwise. Every string of st ends
// up canonical (interned); a shared part is never written to once shared.
// A nil table only interns.
func (p *sharedParts) share(st *imagesv1alpha1.ImageConfigStatus) {
	if p == nil {
		internStrings(reflect.ValueOf(st).Elem())
		return
	}
	cfg, refs, layers, platforms := st.Config, st.Referrers, st.Layers, st.Platforms
	st.Config, st.Referrers, st.Layers, st.Platforms = nil, nil, nil, nil
	internStrings(reflect.ValueOf(st).Elem())

	p.mu.Lock()
	defer p.mu.Unlock()
	if cfg != nil && st.ConfigDigest != "" {
		st.Config = sharePointer(p.configs, st.ConfigDigest, cfg)
	} else {
		st.Config = internPart(cfg)
	}
	if refs != nil && refs.Digest != "" {
		st.Referrers = sharePointer(p.referrers, refs.Digest, refs)
	} else {
		st.Referrers = internPart(refs)
	}
	// The layers are the manifest's, joined to the config's history.
	st.Layers = shareSlice(p.layers, st.ManifestDigest+"|"+st.ConfigDigest, layers)
	st.Platforms = shareSlice(p.platforms, st.Digest, platforms)
}

// weakTable maps a digest to a weak pointer to a shared value (for a slice,
// to its first element) and the slice's length.
type weakTable[T any] map[string]weakRef[T]

type weakRef[T any] struct {
	first weak.Pointer[T]
	n     int
}

// get returns the table's live value for key, as a slice of n elements (n is
// 1 for a pointer).
func (t weakTable[T]) get(key string) []T {
	r, ok := t[key]
	if !ok {
		return nil
	}
	p := r.first.Value()
	if p == nil {
		delete(t, key)
		return nil
	}
	// The weak pointer is to the start of the allocation that holds the n
	// elements, and it is alive, so all n are.
	return unsafe.Slice(p, r.n)
}

// put records v (n elements from first) under key, sweeping dead entries when
// the table has grown: entries die with the last object that held them.
func (t weakTable[T]) put(key string, first *T, n int) {
	if len(t) >= 1024 && len(t)&(len(t)-1) == 0 { // at each power of two
		for k, r := range t {
			if r.first.Value() == nil {
				delete(t, k)
			}
		}
	}
	t[key] = weakRef[T]{first: weak.Make(first), n: n}
}

func sharePointer[T any](t weakTable[T], key string, v *T) *T {
	if have := t.get(key); len(have) == 1 && equality.Semantic.DeepEqual(&have[0], v) {
		return &have[0]
	}
	v = internPart(v)
	t.put(key, v, 1)
	return v
}

func shareSlice[T any](t weakTable[T], key string, v []T) []T {
	if len(v) == 0 || key == "" || key == "|" {
		return internPart(v)
	}
	if have := t.get(key); len(have) == len(v) && equality.Semantic.DeepEqual(have, v) {
		return have
	}
	v = internPart(v)
	t.put(key, &v[0], len(v))
	return v
}

// internPart makes the strings of a part that is not shared yet canonical.
func internPart[T any](v T) T {
	internStrings(reflect.ValueOf(&v).Elem())
	return v
}

// internStrings replaces every settable string reachable from v (through
// structs, pointers, slices and maps) with its canonical copy.
func internStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(unique.Make(v.String()).Value())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			internStrings(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				internStrings(f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			internStrings(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			return
		}
		iter := v.MapRange()
		type kv struct{ k, v string }
		var entries []kv
		for iter.Next() {
			entries = append(entries, kv{iter.Key().String(), iter.Value().String()})
		}
		for _, e := range entries {
			k := reflect.ValueOf(unique.Make(e.k).Value()).Convert(v.Type().Key())
			v.SetMapIndex(k, reflect.ValueOf(unique.Make(e.v).Value()).Convert(v.Type().Elem()))
		}
	}
}
