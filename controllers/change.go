package controllers

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// Bounds of status.lastChange: at most maxChangeItems entries in each of its
// lists and maxChangeValue bytes in each value, some 200 KiB at worst.
const (
	maxChangeItems = 32
	maxChangeValue = 256
)

// recordChange sets status.lastChange when res is a move of the tag that prev
// (the status before this resolution) had resolved: the same reference and
// platform, another digest. A resolution of another reference or platform (a new
// spec) is not a move, and clears a lastChange that described another image.
// Anything else, such as an unchanged re-check, leaves lastChange alone.
func recordChange(st *imagesv1alpha1.ImageConfigStatus, prev, res *manifests.Result, subject string, now time.Time) {
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
	bounded, note := full.Bound(maxChangeItems, maxChangeValue)
	st.LastChange = &imagesv1alpha1.ImageChange{
		From:      prev.Digest,
		To:        res.Digest,
		Time:      metav1.Time{Time: now},
		Summary:   compare.Line(subject, full),
		Change:    changeDetails(bounded),
		Truncated: note,
	}
}

// changeDetails converts the finders' change to the API's. The two types have the
// same JSON shape (TestChangeFieldNames keeps them in step), so the conversion
// goes through JSON.
func changeDetails(c compare.Change) *imagesv1alpha1.ImageChangeDetails {
	b, err := json.Marshal(c)
	if err != nil {
		return nil
	}
	var d imagesv1alpha1.ImageChangeDetails
	if err := json.Unmarshal(b, &d); err != nil {
		return nil
	}
	return &d
}

// moveSubject names what moved, for the change summary: "tag 1.27".
func moveSubject(obj *imagesv1alpha1.ImageConfig) string {
	if obj.Spec.Tag == "" && obj.Spec.Digest == "" {
		return "tag " + imagesv1alpha1.DefaultTag
	}
	return "tag " + obj.Spec.Tag
}
