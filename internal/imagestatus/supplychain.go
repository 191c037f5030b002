package imagestatus

import (
	"errors"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
)

// The supply-chain part of the mapping: a base check (supplychain.BaseCheck)
// becomes status.baseImage.currentDigest and the BaseImageOutdated condition,
// and a listing of what is attached to the digest (supplychain.Referrers)
// becomes status.referrers. Neither ever touches Ready, Reconciling or Stalled:
// the image itself resolved, so kstatus reads the object as it did before.

// declaredBase is status.baseImage after a resolution whose image declares b:
// the declared name and digest, with the base tag's currentDigest kept from cur
// while the name is the same (a new image on the same base tag still has the same
// base tag). A base named by spec.baseImage.ref (no recorded digest, a current
// digest) is kept as it is: ApplyBase owns it.
func declaredBase(b *manifests.BaseImage, cur *imagesv1alpha1.BaseImageStatus) *imagesv1alpha1.BaseImageStatus {
	if cur != nil && cur.Digest == "" && cur.CurrentDigest != "" {
		return cur
	}
	if b == nil {
		return nil
	}
	out := &imagesv1alpha1.BaseImageStatus{Name: b.Name, Digest: b.Digest}
	if cur != nil && cur.Name == b.Name {
		out.CurrentDigest = cur.CurrentDigest
	}
	return out
}

// previousBase is the declared base of status.baseImage, for Previous: nil for
// a base that only spec.baseImage.ref names.
func previousBase(b *imagesv1alpha1.BaseImageStatus) *manifests.BaseImage {
	if b == nil || (b.Digest == "" && b.CurrentDigest != "") {
		return nil
	}
	return &manifests.BaseImage{Name: b.Name, Digest: b.Digest}
}

// ApplyBase records the base check of obj's image: check and err are what
// supplychain.CheckBase returned, declared is the base the image's annotations
// name (manifests.Result.BaseImage). It sets status.baseImage and the
// BaseImageOutdated condition:
//
//   - no base known (check and err nil): the condition is removed, and
//     status.baseImage holds only what the image declares;
//   - outdated: True, with the check's reason, and a message with the old and new
//     digests and the time the move was first seen. That time is kept while the
//     base tag stays where it moved to, so a re-check finding the same move
//     changes nothing;
//   - current: False, reason BaseCurrent;
//   - a base name that does not parse, or a registry the network policy denies:
//     Unknown, reason InvalidBaseReference or BaseRegistryNotAllowed (no request
//     was made);
//   - another failure (the base's registry is down, or refuses the credentials):
//     the last verdict and currentDigest are kept, since an outage never blanks
//     what was found; with no verdict yet, Unknown with reason BaseCheckFailed.
func ApplyBase(obj *imagesv1alpha1.ImageConfig, declared *manifests.BaseImage, check *supplychain.BaseCheck, err error, now time.Time) {
	st := &obj.Status
	cond := apimeta.FindStatusCondition(st.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
	if err != nil {
		var denied *netpolicy.NotAllowedError
		switch reason := manifests.ReasonOf(err); {
		case reason == manifests.InvalidReference:
			SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionUnknown, imagesv1alpha1.InvalidBaseReferenceReason,
				baseMessage("The base image cannot be checked: "+err.Error()))
		case reason == manifests.RegistryNotAllowed, errors.As(err, &denied):
			SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionUnknown, imagesv1alpha1.BaseRegistryNotAllowedReason,
				baseMessage("The base image cannot be checked: "+err.Error()))
		case cond == nil || cond.Status == metav1.ConditionUnknown:
			SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionUnknown, imagesv1alpha1.BaseCheckFailedReason,
				baseMessage("The base image could not be checked: "+err.Error()))
		}
		return
	}
	if check == nil {
		apimeta.RemoveStatusCondition(&st.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
		st.BaseImage = nil
		if declared != nil && *declared != (manifests.BaseImage{}) {
			st.BaseImage = &imagesv1alpha1.BaseImageStatus{Name: declared.Name, Digest: declared.Digest}
		}
		return
	}

	var before string
	if st.BaseImage != nil {
		before = st.BaseImage.CurrentDigest
	}
	st.BaseImage = &imagesv1alpha1.BaseImageStatus{
		Name:          truncateUTF8(check.Name, maxBaseName),
		Digest:        truncateUTF8(check.Digest, maxReferrerDigest),
		CurrentDigest: truncateUTF8(check.CurrentDigest, maxReferrerDigest),
	}
	if !check.Outdated {
		msg := fmt.Sprintf("Built on the current image of %s (%s)", check.Name, check.CurrentDigest)
		SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionFalse, imagesv1alpha1.BaseCurrentReason, baseMessage(msg))
		return
	}
	reason := check.Reason
	if reason == "" {
		reason = imagesv1alpha1.BaseMovedReason
	}
	if cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == reason && before == check.CurrentDigest {
		// The same move, seen again: keep its first-seen time.
		cond.ObservedGeneration = obj.Generation
		return
	}
	msg := check.Message
	if msg == "" {
		msg = fmt.Sprintf("Base %s moved from %s to %s", check.Name, check.Digest, check.CurrentDigest)
	}
	msg = fmt.Sprintf("%s; first seen %s", baseMessage(msg), now.UTC().Format(time.RFC3339))
	SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionTrue, reason, msg)
}

// MarkBaseUnknown records that the base image could not be checked for a
// reason of the object's own making, such as the Secret of
// spec.baseImage.secretRef missing (reason SecretNotFound or InvalidSecret):
// BaseImageOutdated is Unknown with that reason and message, and Ready is left alone.
func MarkBaseUnknown(obj *imagesv1alpha1.ImageConfig, reason, msg string) {
	SetCondition(obj, imagesv1alpha1.BaseImageOutdatedCondition, metav1.ConditionUnknown, reason, baseMessage("The base image cannot be checked: "+msg))
}

// BaseMoved reports whether the base check recorded in cur is a move that old
// did not know: BaseImageOutdated turned True, or stayed True with another
// current digest. It is the test for the BaseImageMoved event, which so fires
// once per move, whatever the number of re-checks or restarts.
func BaseMoved(old, cur *imagesv1alpha1.ImageConfigStatus) (string, bool) {
	now := apimeta.FindStatusCondition(cur.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
	if now == nil || now.Status != metav1.ConditionTrue || cur.BaseImage == nil {
		return "", false
	}
	was := apimeta.FindStatusCondition(old.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
	if was == nil || was.Status != metav1.ConditionTrue || old.BaseImage == nil || old.BaseImage.CurrentDigest != cur.BaseImage.CurrentDigest {
		return now.Message, true
	}
	return "", false
}

// BaseOutdated reports whether st's BaseImageOutdated condition is True.
func BaseOutdated(st *imagesv1alpha1.ImageConfigStatus) bool {
	return apimeta.IsStatusConditionTrue(st.Conditions, imagesv1alpha1.BaseImageOutdatedCondition)
}

// Bounds of the values of status.referrers and status.baseImage, as their CRD
// markers declare them.
const (
	maxReferrerDigest = 256
	maxReferrerType   = 256
	maxReferrerFormat = 64
	// maxBaseName bounds status.baseImage.name.
	maxBaseName = 1024
	// maxBaseMessage bounds the BaseImageOutdated message, which quotes names
	// taken from the image's annotations.
	maxBaseMessage = 4096
)

// ApplyReferrers records a listing of what is attached to digest, made at now,
// as status.referrers: at most MaxReferrers entries (truncated says when there
// were more), values cut to their bounds, and signed when any entry is a
// signature. An entry whose kind is not one the API knows is kept as "other";
// one whose source the API does not know is dropped and counted as truncated.
func ApplyReferrers(st *imagesv1alpha1.ImageConfigStatus, digest string, refs *supplychain.Referrers, now time.Time) {
	out := &imagesv1alpha1.ReferrersStatus{Digest: digest, Truncated: refs.Truncated, LastListedTime: &metav1.Time{Time: now}}
	for _, e := range refs.Entries {
		if len(out.Entries) == imagesv1alpha1.MaxReferrers {
			out.Truncated = true
			break
		}
		if !knownSource(e.Source) {
			out.Truncated = true
			continue
		}
		kind := e.Kind
		if !knownKind(kind) {
			kind = supplychain.KindOther
		}
		out.Entries = append(out.Entries, imagesv1alpha1.Referrer{
			Digest:       truncateUTF8(e.Digest, maxReferrerDigest),
			ArtifactType: truncateUTF8(e.ArtifactType, maxReferrerType),
			Kind:         kind,
			Format:       truncateUTF8(e.Format, maxReferrerFormat),
			Source:       e.Source,
		})
		out.Signed = out.Signed || kind == supplychain.KindSignature
	}
	st.Referrers = out
}

// Signed reports whether st lists a signature; false when nothing was listed.
func Signed(st *imagesv1alpha1.ImageConfigStatus) bool {
	return st.Referrers != nil && st.Referrers.Signed
}

func knownKind(k string) bool {
	switch k {
	case supplychain.KindSignature, supplychain.KindSBOM, supplychain.KindProvenance, supplychain.KindAttestation, supplychain.KindOther:
		return true
	}
	return false
}

func knownSource(s string) bool {
	switch s {
	case supplychain.SourceReferrersAPI, supplychain.SourceTagSchema, supplychain.SourceCosignTag, supplychain.SourceIndex:
		return true
	}
	return false
}

// baseMessage cuts a BaseImageOutdated message to maxBaseMessage bytes.
func baseMessage(msg string) string { return truncateUTF8(msg, maxBaseMessage) }
