package controllers

import (
	"reflect"
	"unique"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// lastAppliedAnnotation is kubectl's copy of the applied object. The manager
// never reads it, and it repeats the whole spec.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// slimImageConfig is the informer cache's transform of ImageConfigs. It drops
// what the manager never reads (managedFields, kubectl's last-applied copy),
// and makes every string of the spec and status a canonical copy (package
// unique): the objects on one tag hold the same digests, platforms, config,
// layers and condition messages, and the cache then keeps each of those once,
// as the finders' shared content cache does for the bytes they came from.
// Cached objects are never changed in place (reads deep-copy them), so sharing
// their strings is safe: strings are immutable.
func slimImageConfig(in any) (any, error) {
	obj, ok := in.(*imagesv1alpha1.ImageConfig)
	if !ok {
		return in, nil
	}
	obj.ManagedFields = nil
	delete(obj.Annotations, lastAppliedAnnotation)
	obj.Namespace = unique.Make(obj.Namespace).Value()
	internStrings(reflect.ValueOf(&obj.Spec).Elem())
	internStrings(reflect.ValueOf(&obj.Status).Elem())
	return obj, nil
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
