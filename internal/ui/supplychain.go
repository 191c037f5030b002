package ui

import (
	"net/url"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// The supply-chain parts of the pages: the base image with its current digest
// and the BaseImageOutdated verdict, the artifacts attached to the digest, and
// the fleet's "stale base" and "unsigned" filters. They read only the status
// that internal/imagestatus filled; every value is registry data and is
// rendered as text.

// Values of the fleet page's supply query parameter.
const (
	supplyStaleBase = "stale-base"
	supplyUnsigned  = "unsigned"
)

// supplyFilters are the supply filter's options, with their labels.
var supplyFilters = []keyValue{{supplyStaleBase, "stale base"}, {supplyUnsigned, "unsigned"}}

// baseImageView is the image the image was built on.
type baseImageView struct {
	Name, Digest, CurrentDigest string
	// Verdict is the BaseImageOutdated condition, nil when the base was not checked.
	Verdict *metav1.Condition
	// Outdated is Verdict's status True.
	Outdated bool
	// Find lists the objects on the current base digest.
	Find string
}

// attachmentsView is what is attached to the digest.
type attachmentsView struct {
	Rows      []imagesv1alpha1.Referrer
	Truncated bool
	Signed    bool
	Digest    string
	Listed    *metav1.Time
}

// baseView is the base image section of obj's page; nil when no base is known.
func baseView(obj *imagesv1alpha1.ImageConfig) *baseImageView {
	b := obj.Status.BaseImage
	if b == nil || (b.Name == "" && b.Digest == "") {
		return nil
	}
	v := &baseImageView{Name: b.Name, Digest: b.Digest, CurrentDigest: b.CurrentDigest}
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition); c != nil {
		v.Verdict = c.DeepCopy()
		v.Outdated = c.Status == metav1.ConditionTrue
	}
	if d := b.Digest; d != "" {
		v.Find = "/?" + url.Values{"q": {d}}.Encode()
	}
	return v
}

// attachments is the attachments section of obj's page; nil when nothing was listed.
func attachments(obj *imagesv1alpha1.ImageConfig) *attachmentsView {
	r := obj.Status.Referrers
	if r == nil {
		return nil
	}
	return &attachmentsView{Rows: r.Entries, Truncated: r.Truncated, Signed: r.Signed, Digest: r.Digest, Listed: r.LastListedTime}
}

// staleBase reports whether obj's base image has moved (BaseImageOutdated=True).
func staleBase(obj *imagesv1alpha1.ImageConfig) bool {
	return apimeta.IsStatusConditionTrue(obj.Status.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
}

// unsigned reports whether obj's attachments were listed and hold no signature.
// An object not listed yet is neither signed nor unsigned.
func unsigned(obj *imagesv1alpha1.ImageConfig) bool {
	return obj.Status.Referrers != nil && !obj.Status.Referrers.Signed
}

// matchesSupply reports whether obj passes the supply filter f ("" passes all).
func matchesSupply(obj *imagesv1alpha1.ImageConfig, f string) bool {
	switch f {
	case supplyStaleBase:
		return staleBase(obj)
	case supplyUnsigned:
		return unsigned(obj)
	}
	return true
}

// supplyChainCommands are the command lines that print the base check and the
// attachments: imageconfig base (with --base for spec.baseImage.ref), when a
// base is known, and imageconfig referrers.
func supplyChainCommands(obj *imagesv1alpha1.ImageConfig, image, flags string) []string {
	var out []string
	if b := obj.Spec.BaseImage; b != nil && b.Ref != "" {
		out = append(out, "imageconfig base "+shellQuote(image)+flags+" --base "+shellQuote(b.Ref))
	} else if obj.Status.BaseImage != nil {
		out = append(out, "imageconfig base "+shellQuote(image)+flags)
	}
	return append(out, "imageconfig referrers "+shellQuote(image)+flags)
}
