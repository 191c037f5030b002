package imagestatus

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// RecordChange sets status.lastChange when res is a move of the tag that prev
// (the status before this resolution) had resolved: the same reference and
// platform, another digest. A resolution of another reference or platform (a
// new spec) is not a move, and clears a lastChange that described another
// image. Anything else, such as an unchanged re-check, leaves lastChange alone.
// subject names what moved, for the summary line: "tag 1.27".
func RecordChange(st *imagesv1alpha1.ImageConfigStatus, prev, res *manifests.Result, subject string, now time.Time) {
	switch {
	case prev == nil || res.Unchanged:
		return
	case prev.ImageRef != res.ImageRef || prev.Platform != res.Platform:
		st.LastChange = nil
		return
	case prev.Digest == res.Digest:
		return
	}
	full := compare.Compare(prev, res)
	bounded, note := full.Bound(imagesv1alpha1.MaxChangeItems, imagesv1alpha1.MaxChangeValue)
	st.LastChange = &imagesv1alpha1.ImageChange{
		From:      prev.Digest,
		To:        res.Digest,
		Time:      metav1.Time{Time: now},
		Summary:   compare.Line(subject, full),
		Change:    ChangeDetails(bounded),
		Truncated: note,
	}
}

// MoveSubject names what moves for an object's spec, for the change summary:
// "tag 1.27", or "tag latest" when the spec names neither tag nor digest.
func MoveSubject(spec imagesv1alpha1.ImageConfigSpec) string {
	if spec.Tag == "" && spec.Digest == "" {
		return "tag " + imagesv1alpha1.DefaultTag
	}
	return "tag " + spec.Tag
}

// ChangeDetails converts the finders' comparison to status.lastChange.change.
// The leaf types are identical on both sides, so Go converts them and the
// compiler keeps them in step; the lists are converted element by element.
func ChangeDetails(c compare.Change) *imagesv1alpha1.ImageChangeDetails {
	str := func(s *compare.StringChange) *imagesv1alpha1.StringChange { return (*imagesv1alpha1.StringChange)(s) }
	list := func(l *compare.ListChange) *imagesv1alpha1.ListChange { return (*imagesv1alpha1.ListChange)(l) }
	set := func(s *compare.SetChange) *imagesv1alpha1.SetChange { return (*imagesv1alpha1.SetChange)(s) }
	return &imagesv1alpha1.ImageChangeDetails{
		Digest:         str(c.Digest),
		ManifestDigest: str(c.ManifestDigest),
		ConfigDigest:   str(c.ConfigDigest),
		Env:            mapChange(c.Env),
		Entrypoint:     list(c.Entrypoint),
		Cmd:            list(c.Cmd),
		User:           str(c.User),
		WorkingDir:     str(c.WorkingDir),
		ExposedPorts:   set(c.ExposedPorts),
		Volumes:        set(c.Volumes),
		Labels:         mapChange(c.Labels),
		StopSignal:     str(c.StopSignal),
		OS:             str(c.OS),
		Architecture:   str(c.Architecture),
		Variant:        str(c.Variant),
		Layers:         layerChange(c.Layers),
		BaseImage:      baseImageChange(c.BaseImage),
	}
}

func mapChange(m *compare.MapChange) *imagesv1alpha1.MapChange {
	if m == nil {
		return nil
	}
	return &imagesv1alpha1.MapChange{
		Added:   convert(m.Added, func(kv compare.KeyValue) imagesv1alpha1.KeyValue { return imagesv1alpha1.KeyValue(kv) }),
		Removed: convert(m.Removed, func(kv compare.KeyValue) imagesv1alpha1.KeyValue { return imagesv1alpha1.KeyValue(kv) }),
		Changed: convert(m.Changed, func(kc compare.KeyChange) imagesv1alpha1.KeyChange { return imagesv1alpha1.KeyChange(kc) }),
	}
}

func layerChange(l *compare.LayerChange) *imagesv1alpha1.LayerChange {
	if l == nil {
		return nil
	}
	ref := func(r compare.LayerRef) imagesv1alpha1.LayerRef { return imagesv1alpha1.LayerRef(r) }
	return &imagesv1alpha1.LayerChange{
		Kind: l.Kind, KeptCount: l.KeptCount, KeptSize: l.KeptSize,
		Removed: convert(l.Removed, ref), Added: convert(l.Added, ref),
		SizeChange: l.SizeChange,
	}
}

func baseImageChange(b *compare.BaseImageChange) *imagesv1alpha1.BaseImageChange {
	if b == nil {
		return nil
	}
	return &imagesv1alpha1.BaseImageChange{Before: (*imagesv1alpha1.BaseImage)(b.Before), After: (*imagesv1alpha1.BaseImage)(b.After)}
}

// convert maps a list, keeping nil as nil (an empty list would be written as []).
func convert[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
