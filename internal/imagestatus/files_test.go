package imagestatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

func findings(kind string, n int) []files.Finding {
	var out []files.Finding
	for i := range n {
		out = append(out, files.Finding{Kind: kind, Path: fmt.Sprintf("/%s/%d", kind, i), Layer: i % 3, Bytes: int64(i)})
	}
	return out
}

func TestFilesSummary(t *testing.T) {
	by := 2
	long := "/" + strings.Repeat("é", 400) // 801 bytes, cut inside no rune
	tests := []struct {
		name string
		view *files.View
		want *imagesv1alpha1.FilesStatus
	}{
		{
			name: "counts, every finding an example",
			view: &files.View{
				Layers: []files.LayerSummary{
					{Index: 0, Digest: digestA, DiffID: "d0", Size: 10, Added: 3},
					{Index: 1, Digest: digestB, DiffID: "d1", Size: 5, Added: 1, Modified: 1, Deleted: 2, WastedBytes: 7},
				},
				Files:       make([]files.File, 4),
				WastedBytes: 7,
				Findings: []files.Finding{
					{Kind: files.FindingDeletedButPresent, Path: "/root/.netrc", Layer: 0, Bytes: 7, ByLayer: &by},
					{Kind: files.FindingSetuid, Path: "/bin/su", Layer: 0, Bytes: 3},
					{Kind: files.FindingWastedBytes, Layer: 0, Bytes: 7},
				},
			},
			want: &imagesv1alpha1.FilesStatus{
				ManifestDigest: digestA,
				Layers: []imagesv1alpha1.FilesLayer{
					{Index: 0, Digest: digestA, Added: 3},
					{Index: 1, Digest: digestB, Added: 1, Modified: 1, Deleted: 2, WastedBytes: 7},
				},
				FileCount:   4,
				WastedBytes: 7,
				Findings: []imagesv1alpha1.FindingCount{
					{Kind: files.FindingDeletedButPresent, Count: 1}, {Kind: files.FindingSetuid, Count: 1}, {Kind: files.FindingWastedBytes, Count: 1},
				},
				Examples: []imagesv1alpha1.FileFinding{
					{Kind: files.FindingDeletedButPresent, Path: "/root/.netrc", Bytes: 7},
					{Kind: files.FindingSetuid, Path: "/bin/su", Bytes: 3},
					{Kind: files.FindingWastedBytes, Bytes: 7},
				},
			},
		},
		{
			name: "20 examples taken from every kind in turn, the rest counted and truncated",
			view: &files.View{Findings: append(append(findings(files.FindingOverwritten, 30), findings(files.FindingSetuid, 2)...), findings(files.FindingDeletedButPresent, 5)...)},
			want: func() *imagesv1alpha1.FilesStatus {
				st := &imagesv1alpha1.FilesStatus{ManifestDigest: digestA, Truncated: true, Findings: []imagesv1alpha1.FindingCount{
					{Kind: files.FindingDeletedButPresent, Count: 5}, {Kind: files.FindingSetuid, Count: 2}, {Kind: files.FindingOverwritten, Count: 30},
				}}
				ex := func(kind string, i int) imagesv1alpha1.FileFinding {
					return imagesv1alpha1.FileFinding{Kind: kind, Path: fmt.Sprintf("/%s/%d", kind, i), Layer: int32(i % 3), Bytes: int64(i)}
				}
				for i := range 2 {
					st.Examples = append(st.Examples, ex(files.FindingDeletedButPresent, i), ex(files.FindingSetuid, i), ex(files.FindingOverwritten, i))
				}
				for i := 2; i < 5; i++ {
					st.Examples = append(st.Examples, ex(files.FindingDeletedButPresent, i), ex(files.FindingOverwritten, i))
				}
				for i := 5; len(st.Examples) < imagesv1alpha1.MaxFileExamples; i++ {
					st.Examples = append(st.Examples, ex(files.FindingOverwritten, i))
				}
				return st
			}(),
		},
		{
			name: "a long path is cut at a rune boundary and marked",
			view: &files.View{Findings: []files.Finding{{Kind: files.FindingSetuid, Path: long, Layer: 1}}},
			want: &imagesv1alpha1.FilesStatus{ManifestDigest: digestA, Truncated: true,
				Findings: []imagesv1alpha1.FindingCount{{Kind: files.FindingSetuid, Count: 1}},
				Examples: []imagesv1alpha1.FileFinding{{Kind: files.FindingSetuid, Path: long[:509] + "…", Layer: 1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FilesSummary(digestA, tt.view)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, e := range got.Examples {
				if len(e.Path) > imagesv1alpha1.MaxFileExamplePath || !utf8.ValidString(e.Path) {
					t.Errorf("example path of %d bytes (valid UTF-8 %t)", len(e.Path), utf8.ValidString(e.Path))
				}
			}
		})
	}

	t.Run("layers beyond MaxFileLayers are cut", func(t *testing.T) {
		v := &files.View{}
		for i := range imagesv1alpha1.MaxFileLayers + 10 {
			v.Layers = append(v.Layers, files.LayerSummary{Index: i})
		}
		got := FilesSummary(digestA, v)
		if len(got.Layers) != imagesv1alpha1.MaxFileLayers || !got.Truncated {
			t.Errorf("%d layers, truncated %t; want %d and true", len(got.Layers), got.Truncated, imagesv1alpha1.MaxFileLayers)
		}
	})
}

func TestFilesReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"blob digest", fmt.Errorf("layer 1: %w", &files.DigestMismatchError{Layer: digestA, What: "compressed blob"}), imagesv1alpha1.LayerDigestMismatchReason},
		{"layer size", &files.LimitError{Limit: "layer size"}, imagesv1alpha1.LayerLimitExceededReason},
		{"corrupt gzip", &files.FormatError{What: "gzip stream", Err: errors.New("unexpected EOF")}, imagesv1alpha1.InvalidLayerReason},
		{"registry 503", fmt.Errorf("fetching blob: %w", &transport.Error{StatusCode: http.StatusServiceUnavailable}), string(manifests.Unavailable)},
		{"registry 404", &transport.Error{StatusCode: http.StatusNotFound}, string(manifests.NotFound)},
		{"registry 401", &transport.Error{StatusCode: http.StatusUnauthorized}, string(manifests.Unauthorized)},
		{"registry 429", &transport.Error{StatusCode: http.StatusTooManyRequests}, string(manifests.RateLimited)},
		{"a resolution's error, fetching the raw bytes", &manifests.Error{Reason: manifests.NotFound}, string(manifests.NotFound)},
		{"network policy", &netpolicy.NotAllowedError{}, string(manifests.RegistryNotAllowed)},
		{"deadline", context.DeadlineExceeded, string(manifests.Unavailable)},
		{"something else", errors.New("disk full"), imagesv1alpha1.FilesIndexFailedReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FilesReason(tt.err); got != tt.want {
				t.Errorf("FilesReason(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func filesObject(index bool, st *imagesv1alpha1.FilesStatus, cond *metav1.ConditionStatus) *imagesv1alpha1.ImageConfig {
	obj := &imagesv1alpha1.ImageConfig{}
	obj.Generation = 2
	if index {
		obj.Spec.Files = &imagesv1alpha1.FilesSpec{Index: true}
	}
	obj.Status.Digest, obj.Status.ManifestDigest, obj.Status.Files = digestB, digestA, st
	if cond != nil {
		SetCondition(obj, imagesv1alpha1.FilesIndexedCondition, *cond, "R", "m")
	}
	return obj
}

func TestFilesNeeded(t *testing.T) {
	yes, no := metav1.ConditionTrue, metav1.ConditionFalse
	tests := []struct {
		name string
		obj  *imagesv1alpha1.ImageConfig
		want bool
	}{
		{"not asked", filesObject(false, nil, nil), false},
		{"asked, not indexed", filesObject(true, nil, nil), true},
		{"indexed for this manifest", filesObject(true, &imagesv1alpha1.FilesStatus{ManifestDigest: digestA}, &yes), false},
		{"indexed for an earlier manifest", filesObject(true, &imagesv1alpha1.FilesStatus{ManifestDigest: digestB}, &yes), true},
		{"the last attempt failed", filesObject(true, nil, &no), true},
		{"not resolved yet", func() *imagesv1alpha1.ImageConfig {
			o := filesObject(true, nil, nil)
			o.Status.ManifestDigest = ""
			return o
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FilesNeeded(tt.obj); got != tt.want {
				t.Errorf("FilesNeeded = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestMarkFiles(t *testing.T) {
	t.Run("a failure keeps the resolution and drops a summary of another manifest", func(t *testing.T) {
		obj := filesObject(true, &imagesv1alpha1.FilesStatus{ManifestDigest: digestB}, nil)
		MarkReady(obj, "resolved")
		MarkFilesFailed(obj, fmt.Errorf("layer 0: %w", &files.FormatError{Layer: digestB, What: "tar", Err: errors.New("bad\x1b[31m header\tdata")}))
		c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
		wantMsg := "Indexing the layers of sha256:aaaaaaaaaaaa failed: layer 0: layer " + digestB + ": invalid tar: bad [31m header data"
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != imagesv1alpha1.InvalidLayerReason || c.Message != wantMsg || c.ObservedGeneration != 2 {
			t.Errorf("FilesIndexed = %+v, want False/InvalidLayer/%q", c, wantMsg)
		}
		if obj.Status.Files != nil || obj.Status.ManifestDigest != digestA || obj.Status.Digest != digestB || !apimeta.IsStatusConditionTrue(obj.Status.Conditions, imagesv1alpha1.ReadyCondition) {
			t.Errorf("status after a failure: files %+v, digests %s %s, conditions %+v", obj.Status.Files, obj.Status.ManifestDigest, obj.Status.Digest, obj.Status.Conditions)
		}
		MarkFilesIndexing(obj)
		if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition); c.Status != metav1.ConditionFalse {
			t.Errorf("a retry replaced the failure with %+v: a retry that fails the same way would write", c)
		}
	})
	t.Run("a success writes the summary and its message", func(t *testing.T) {
		obj := filesObject(true, nil, nil)
		MarkFilesIndexing(obj)
		if c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition); c == nil || c.Status != metav1.ConditionUnknown || c.Reason != imagesv1alpha1.FilesIndexingReason {
			t.Errorf("FilesIndexed while indexing = %+v", c)
		}
		MarkFilesIndexed(obj, FilesSummary(digestA, &files.View{Layers: make([]files.LayerSummary, 2), Files: make([]files.File, 3), WastedBytes: 2048,
			Findings: findings(files.FindingSetuid, 2)}))
		c := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.Message != "Indexed 2 layers of sha256:aaaaaaaaaaaa: 3 paths, 2 findings, 2.0 KiB wasted" {
			t.Errorf("FilesIndexed = %+v", c)
		}
		if obj.Status.Files == nil || obj.Status.Files.ManifestDigest != digestA || FilesNeeded(obj) {
			t.Errorf("files = %+v, needed %t", obj.Status.Files, FilesNeeded(obj))
		}
		ClearFiles(obj)
		if obj.Status.Files != nil || apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition) != nil {
			t.Errorf("ClearFiles left %+v %+v", obj.Status.Files, obj.Status.Conditions)
		}
	})
}

func TestFileIndex(t *testing.T) {
	by := 1
	v := &files.View{
		Layers: []files.LayerSummary{{Index: 0, Digest: digestA, DiffID: "d", Size: 9, Source: files.SourceStream, Added: 2, WastedBytes: 4}, {Index: 1, Digest: digestB, Deleted: 1}},
		Files: []files.File{
			{Entry: files.Entry{Path: "/bin", Type: files.TypeDir, Mode: 0o755}, Layer: 0},
			{Entry: files.Entry{Path: "/bin/sh", Type: files.TypeSymlink, Mode: 0o777, LinkTarget: "busybox"}, Layer: 0},
		},
		Changes: [][]files.Change{
			{{Change: files.Added, Entry: files.Entry{Path: "/bin", Type: files.TypeDir, Mode: 0o755}}, {Change: files.Added, Entry: files.Entry{Path: "/secret", Type: files.TypeFile, Mode: 0o4755, Size: 4}}},
			{{Change: files.Deleted, Entry: files.Entry{Path: "/secret", Type: files.TypeFile, Mode: 0o4755, Size: 4}}},
		},
		Findings:    []files.Finding{{Kind: files.FindingDeletedButPresent, Path: "/secret", Layer: 0, Bytes: 4, ByLayer: &by}, {Kind: files.FindingWastedBytes, Layer: 0, Bytes: 4}},
		WastedBytes: 4,
	}
	want := &ui.FileIndex{
		ImageRef: "r/a:1", Platform: "linux/amd64", WastedBytes: 4,
		Layers: []ui.FileLayer{{Index: 0, Digest: digestA, Added: 2, WastedBytes: 4}, {Index: 1, Digest: digestB, Deleted: 1}},
		Files: []ui.FileEntry{
			{Path: "/bin", Type: "dir", Mode: "drwxr-xr-x"},
			{Path: "/bin/sh", Type: "symlink", Mode: "lrwxrwxrwx", LinkTarget: "busybox"},
		},
		Changes: [][]ui.FileEntry{
			{{Path: "/bin", Type: "dir", Mode: "drwxr-xr-x", Change: "added"}, {Path: "/secret", Type: "file", Mode: "-rwsr-xr-x", Size: 4, Change: "added"}},
			{{Path: "/secret", Type: "file", Mode: "-rwsr-xr-x", Size: 4, Layer: 1, Change: "deleted"}},
		},
		Findings: []ui.FileFinding{{Kind: "deletedButPresent", Path: "/secret", Bytes: 4, ByLayer: 1}, {Kind: "wastedBytes", Bytes: 4, ByLayer: -1}},
	}
	if diff := cmp.Diff(want, FileIndex("r/a:1", "linux/amd64", v)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
