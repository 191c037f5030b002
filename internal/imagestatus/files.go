package imagestatus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// exampleOrder is the order in which status.files.examples takes the kinds,
// one finding of each in turn: the kinds a researcher looks at first go first.
var exampleOrder = []string{
	files.FindingDeletedButPresent,
	files.FindingSetuid,
	files.FindingSetgid,
	files.FindingWorldWritable,
	files.FindingEscapesRoot,
	files.FindingOverwritten,
	files.FindingWastedBytes,
}

// FilesSummary is the bounded summary of an image's layer file index that
// status.files holds: per-layer changeset counts, the findings counted by kind
// and at most MaxFileExamples of them, never a file list. manifestDigest is the
// platform manifest that was indexed.
func FilesSummary(manifestDigest string, v *files.View) *imagesv1alpha1.FilesStatus {
	out := &imagesv1alpha1.FilesStatus{ManifestDigest: manifestDigest, FileCount: int64(len(v.Files)), WastedBytes: v.WastedBytes}
	for i, l := range v.Layers {
		if i == imagesv1alpha1.MaxFileLayers {
			out.Truncated = true
			break
		}
		out.Layers = append(out.Layers, imagesv1alpha1.FilesLayer{Index: int32(l.Index), Digest: l.Digest,
			Added: int64(l.Added), Modified: int64(l.Modified), Deleted: int64(l.Deleted), WastedBytes: l.WastedBytes})
	}
	byKind := map[string][]files.Finding{}
	for _, f := range v.Findings {
		byKind[f.Kind] = append(byKind[f.Kind], f)
	}
	kinds := append([]string{}, exampleOrder...)
	for k := range byKind { // a kind this mapping does not know yet goes last
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	for _, k := range kinds {
		if n := len(byKind[k]); n > 0 && len(out.Findings) < imagesv1alpha1.MaxFindingKinds {
			out.Findings = append(out.Findings, imagesv1alpha1.FindingCount{Kind: k, Count: int64(n)})
		}
	}
	for round := 0; len(out.Examples) < imagesv1alpha1.MaxFileExamples; round++ {
		took := false
		for _, k := range kinds {
			if round < len(byKind[k]) && len(out.Examples) < imagesv1alpha1.MaxFileExamples {
				f := byKind[k][round]
				path, cut := cutPath(f.Path)
				out.Truncated = out.Truncated || cut
				out.Examples = append(out.Examples, imagesv1alpha1.FileFinding{Kind: f.Kind, Path: path, Layer: int32(f.Layer), Bytes: f.Bytes})
				took = true
			}
		}
		if !took {
			break
		}
	}
	if len(out.Examples) < len(v.Findings) {
		out.Truncated = true
	}
	return out
}

// cutPath cuts p to MaxFileExamplePath bytes at a rune boundary, marking the cut with "…".
func cutPath(p string) (string, bool) {
	const ellipsis = "…"
	if len(p) <= imagesv1alpha1.MaxFileExamplePath {
		return p, false
	}
	n := imagesv1alpha1.MaxFileExamplePath - len(ellipsis)
	for n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return p[:n] + ellipsis, true
}

// FilesNeeded reports whether obj asks for a file index that status.files does
// not hold yet: spec.files.index is true and status.files is not of
// status.manifestDigest, or FilesIndexed is not True for this generation's
// spec (an earlier attempt failed).
func FilesNeeded(obj *imagesv1alpha1.ImageConfig) bool {
	if obj.Spec.Files == nil || !obj.Spec.Files.Index || obj.Status.ManifestDigest == "" {
		return false
	}
	st := obj.Status.Files
	return st == nil || st.ManifestDigest != obj.Status.ManifestDigest ||
		!apimeta.IsStatusConditionTrue(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
}

// ClearFiles removes status.files and the FilesIndexed condition of an object
// that no longer asks for the index.
func ClearFiles(obj *imagesv1alpha1.ImageConfig) {
	obj.Status.Files = nil
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
}

// MarkFilesIndexed writes st, the FilesSummary of status.manifestDigest's
// index, and sets FilesIndexed=True.
func MarkFilesIndexed(obj *imagesv1alpha1.ImageConfig, st *imagesv1alpha1.FilesStatus) {
	obj.Status.Files = st.DeepCopy()
	var findings int64
	for _, f := range st.Findings {
		findings += f.Count
	}
	SetCondition(obj, imagesv1alpha1.FilesIndexedCondition, metav1.ConditionTrue, imagesv1alpha1.FilesIndexedReason,
		fmt.Sprintf("Indexed %d layers of %s: %d paths, %d findings, %s wasted", len(st.Layers), format.ShortDigest(st.ManifestDigest),
			st.FileCount, findings, format.Size(st.WastedBytes)))
}

// MarkFilesIndexing records that the layers of status.manifestDigest are being
// indexed (FilesIndexed=Unknown), unless the last attempt failed: that verdict
// stays until the new one, so that a retry that fails the same way writes nothing.
func MarkFilesIndexing(obj *imagesv1alpha1.ImageConfig) {
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition); c != nil && c.Status == metav1.ConditionFalse {
		return
	}
	SetCondition(obj, imagesv1alpha1.FilesIndexedCondition, metav1.ConditionUnknown, imagesv1alpha1.FilesIndexingReason,
		"Indexing the layers of "+format.ShortDigest(obj.Status.ManifestDigest))
}

// MarkFilesFailed records a failed indexing as FilesIndexed=False with a reason
// naming the failure. A summary of another manifest is removed (it would
// describe an earlier image); the resolved digests and Ready are left alone.
func MarkFilesFailed(obj *imagesv1alpha1.ImageConfig, err error) {
	if st := obj.Status.Files; st != nil && st.ManifestDigest != obj.Status.ManifestDigest {
		obj.Status.Files = nil
	}
	SetCondition(obj, imagesv1alpha1.FilesIndexedCondition, metav1.ConditionFalse, FilesReason(err),
		filesMessage(fmt.Sprintf("Indexing the layers of %s failed: %v", format.ShortDigest(obj.Status.ManifestDigest), err)))
}

// FilesReason names why indexing failed, as the FilesIndexed condition's reason.
func FilesReason(err error) string {
	var dm *files.DigestMismatchError
	var le *files.LimitError
	var fe *files.FormatError
	switch {
	case errors.As(err, &dm):
		return imagesv1alpha1.LayerDigestMismatchReason
	case errors.As(err, &le):
		return imagesv1alpha1.LayerLimitExceededReason
	case errors.As(err, &fe):
		return imagesv1alpha1.InvalidLayerReason
	}
	if r, ok := files.RegistryReason(err); ok {
		return string(r)
	}
	return imagesv1alpha1.FilesIndexFailedReason
}

// FileIndex maps an image's full layer file index to the shape the web UI's
// file pages show, for `imageconfig serve` and the manager alike.
func FileIndex(imageRef, platform string, v *files.View) *ui.FileIndex {
	out := &ui.FileIndex{ImageRef: imageRef, Platform: platform, WastedBytes: v.WastedBytes,
		Files: []ui.FileEntry{}, Findings: []ui.FileFinding{}}
	entry := func(e files.Entry, layer int) ui.FileEntry {
		return ui.FileEntry{Path: e.Path, Type: string(e.Type), Mode: e.LongMode(), Size: e.Size, Layer: layer, LinkTarget: e.LinkTarget}
	}
	for _, l := range v.Layers {
		out.Layers = append(out.Layers, ui.FileLayer{Index: l.Index, Digest: l.Digest, Added: l.Added, Modified: l.Modified, Deleted: l.Deleted, WastedBytes: l.WastedBytes})
	}
	for _, f := range v.Files {
		out.Files = append(out.Files, entry(f.Entry, f.Layer))
	}
	out.Changes = make([][]ui.FileEntry, len(v.Changes))
	for i, cs := range v.Changes {
		for _, c := range cs {
			e := entry(c.Entry, i)
			e.Change = c.Change
			out.Changes[i] = append(out.Changes[i], e)
		}
	}
	for _, f := range v.Findings {
		by := -1
		if f.ByLayer != nil {
			by = *f.ByLayer
		}
		out.Findings = append(out.Findings, ui.FileFinding{Kind: f.Kind, Path: f.Path, Layer: f.Layer, Bytes: f.Bytes, ByLayer: by})
	}
	return out
}

// filesMessage keeps a failure message on one line, without control
// characters or invalid UTF-8 (a layer's names are attacker-controlled), and at
// most manifests.MaxMessageLength bytes.
func filesMessage(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))), " ")
	if len(s) <= manifests.MaxMessageLength {
		return s
	}
	n := manifests.MaxMessageLength - len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
