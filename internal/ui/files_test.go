package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// filesSource is a Source that indexes files.
type filesSource struct {
	fakeSource
	idx *ui.FileIndex
}

func (s filesSource) Files(_ context.Context, ref, platform string) (*ui.FileIndex, error) {
	return s.idx, nil
}

const hostile = "<script>alert(1)</script>\x1b[31m\xff"

func filesIndex() *ui.FileIndex {
	return &ui.FileIndex{
		ImageRef: "reg.example/app:v1",
		Layers:   []ui.FileLayer{{Index: 0, Digest: digest('a'), Added: 3}, {Index: 1, Digest: digest('b'), Added: 1, Deleted: 1}},
		Files: []ui.FileEntry{
			{Path: "/etc", Type: "dir", Mode: "drwxr-xr-x", Layer: 0},
			{Path: "/etc/passwd", Type: "file", Mode: "-rw-r--r--", Size: 10, Layer: 0},
			{Path: "/usr/bin/su", Type: "file", Mode: "-rwsr-xr-x", Size: 3, Layer: 0},
			{Path: "/" + hostile, Type: "symlink", Mode: "lrwxrwxrwx", Layer: 1, LinkTarget: hostile},
		},
		Changes:  [][]ui.FileEntry{nil, {{Path: "/" + hostile, Type: "symlink", Change: "added", Layer: 1}, {Path: "/secret", Type: "file", Size: 70, Change: "deleted", Layer: 1}}},
		Findings: []ui.FileFinding{{Kind: "deletedButPresent", Path: "/secret", Layer: 0, Bytes: 70, ByLayer: 1}, {Kind: "setuid", Path: "/usr/bin/su", Layer: 0, Bytes: 3, ByLayer: -1}},
	}
}

func getFiles(t *testing.T, h http.Handler, query string, accept string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/files?"+query, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestFilesPage(t *testing.T) {
	h, err := ui.New(ui.Options{Source: filesSource{idx: filesIndex()}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{
			name:  "root directory: named entries, implied directories, layer links",
			query: "ref=reg.example/app:v1",
			want: []string{`<code>imageconfig files reg.example/app:v1</code>`, `href="/files?dir=%2Fetc&amp;ref=reg.example%2Fapp%3Av1"><code>etc/</code>`,
				`href="/files?dir=%2Fusr&amp;ref=reg.example%2Fapp%3Av1"><code>usr/</code>`, `href="/files?layer=1&amp;ref=reg.example%2Fapp%3Av1">1</a>`,
				"deletedButPresent", "/usr/bin/su"},
			not: []string{"passwd"},
		},
		{
			name:  "a subdirectory with its breadcrumb",
			query: "ref=reg.example/app:v1&dir=/usr/bin",
			want:  []string{"--path /usr/bin", `<code>su</code>`, "-rwsr-xr-x", `href="/files?dir=%2Fusr&amp;ref=reg.example%2Fapp%3Av1">usr</a>`},
			not:   []string{"<code>etc/</code>"},
		},
		{
			name:  "a layer's changeset",
			query: "ref=reg.example/app:v1&layer=1",
			want:  []string{"Changeset of layer 1", "--layer 1", "<td>deleted</td>", "/secret"},
		},
		{
			name:  "hostile names render inert",
			query: "ref=reg.example/app:v1&layer=1",
			want:  []string{"&lt;script&gt;alert(1)&lt;/script&gt;"},
			not:   []string{"<script>", "\x1b", "\xff"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := getFiles(t, h, tt.query, "")
			if code != http.StatusOK {
				t.Fatalf("status %d:\n%s", code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("page has %q", n)
				}
			}
		})
	}
	code, body := getFiles(t, h, "ref=reg.example/app:v1", "application/json")
	var got ui.FileIndex
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || len(got.Files) != 4 {
		t.Errorf("JSON: status %d, %v, %d files", code, err, len(got.Files))
	}
	for _, q := range []string{"", "ref=x&layer=-1", "ref=x&layer=9"} {
		if code, _ := getFiles(t, h, q, ""); code == http.StatusOK {
			t.Errorf("?%s: status 200, want an error", q)
		}
	}
	plain, _ := ui.New(ui.Options{Source: fakeSource{}})
	if code, _ := getFiles(t, plain, "ref=x", ""); code != http.StatusNotFound {
		t.Errorf("a source without files: status %d, want 404", code)
	}
}

// objectFiles is an ObjectFileIndexer that answers one index, and records
// which objects it was asked for.
type objectFiles struct {
	idx   *ui.FileIndex
	asked []string
}

func (o *objectFiles) ObjectFiles(_ context.Context, obj *imagesv1alpha1.ImageConfig) (*ui.FileIndex, error) {
	o.asked = append(o.asked, obj.Namespace+"/"+obj.Name+"@"+obj.Status.ManifestDigest)
	if o.idx == nil {
		return nil, errors.New("not in the index cache")
	}
	return o.idx, nil
}

func TestObjectFilesPages(t *testing.T) {
	optedIn := readyObject("team-a", "web")
	optedIn.Spec.Files = &imagesv1alpha1.FilesSpec{Index: true}
	hostileName := readyObject("team-a", "evil")
	hostileName.Spec.Files = &imagesv1alpha1.FilesSpec{Index: true}
	hostileName.Status.ImageRef = "reg.example/" + hostile
	plain := readyObject("team-a", "plain")
	src := fakeSource{items: []ui.Item{{Object: optedIn}, {Object: hostileName}, {Object: plain}}}
	files := &objectFiles{idx: filesIndex()}
	h, err := ui.New(ui.Options{Source: src, ObjectFiles: files})
	if err != nil {
		t.Fatal(err)
	}
	base := "/namespaces/team-a/imageconfigs/web/files"
	tests := []struct {
		name, target string
		code         int
		want, not    []string
	}{
		{
			name: "the object page links its files", target: "/namespaces/team-a/imageconfigs/web", code: http.StatusOK,
			want: []string{`href="` + base + `"`},
		},
		{
			name: "an object without spec.files.index has no link", target: "/namespaces/team-a/imageconfigs/plain", code: http.StatusOK,
			not: []string{"/files"},
		},
		{
			name: "the tree with provenance layer links", target: base, code: http.StatusOK,
			want: []string{`href="` + base + `?dir=%2Fetc"><code>etc/</code>`, `href="` + base + `?layer=1">1</a>`, "imageconfig files " + optedIn.Status.ImageRef + " --platform linux/arm64/v8",
				"deletedButPresent", "/usr/bin/su"},
		},
		{
			name: "a subdirectory", target: base + "?dir=/usr/bin", code: http.StatusOK,
			want: []string{"--path /usr/bin", "<code>su</code>", `href="` + base + `?dir=%2Fusr">usr</a>`},
		},
		{
			name: "a layer's changeset, hostile names inert", target: base + "?layer=1", code: http.StatusOK,
			want: []string{"Changeset of layer 1", "<td>deleted</td>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
			not:  []string{"<script>", "\x1b", "\xff"},
		},
		{
			name: "a hostile image reference is inert in the command", target: "/namespaces/team-a/imageconfigs/evil/files", code: http.StatusOK,
			want: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"},
			not:  []string{"<script>", "\x1b", "\xff"},
		},
		{name: "an object that does not ask", target: "/namespaces/team-a/imageconfigs/plain/files", code: http.StatusNotFound, want: []string{"spec.files.index"}},
		{name: "no such object", target: "/namespaces/team-a/imageconfigs/nope/files", code: http.StatusNotFound},
		{name: "a layer out of range", target: base + "?layer=7", code: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, tt.target)
			body := rec.Body.String()
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d:\n%s", rec.Code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("page has %q", n)
				}
			}
		})
	}
	if len(files.asked) == 0 || files.asked[0] != "team-a/web@"+optedIn.Status.ManifestDigest {
		t.Errorf("the indexer was asked for %q", files.asked)
	}

	t.Run("JSON by Accept", func(t *testing.T) {
		rec := get(t, h, http.MethodGet, base, "Accept", "application/json")
		var got ui.FileIndex
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil || len(got.Files) != 4 {
			t.Errorf("status %d, %v, %d files", rec.Code, err, len(got.Files))
		}
	})
	t.Run("an index not in the cache is a clear error", func(t *testing.T) {
		h, _ := ui.New(ui.Options{Source: src, ObjectFiles: &objectFiles{}})
		rec := get(t, h, http.MethodGet, base)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not in the index cache") {
			t.Errorf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
	t.Run("without an indexer there are no file pages", func(t *testing.T) {
		h, _ := ui.New(ui.Options{Source: src})
		if rec := get(t, h, http.MethodGet, base); rec.Code != http.StatusNotFound {
			t.Errorf("status %d, want 404", rec.Code)
		}
		if rec := get(t, h, http.MethodGet, "/namespaces/team-a/imageconfigs/web"); strings.Contains(rec.Body.String(), base) {
			t.Errorf("the object page links files the UI cannot show")
		}
	})
}
