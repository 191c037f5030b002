package files

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageOf builds an image of gzip layers from the tar entries of each layer.
func imageOf(t testing.TB, layers ...[]tf) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, entries := range layers {
		b := tarOf(t, entries...)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// indexImage indexes every layer of img with ReadLayer and merges them.
func indexImage(t testing.TB, img v1.Image) *View {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var idx []*Layer
	for _, l := range layers {
		dg, _ := l.Digest()
		diffID, _ := l.DiffID()
		size, _ := l.Size()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		li, err := ReadLayer(context.Background(), rc, Descriptor{Digest: dg.String(), DiffID: diffID.String(), Size: size}, Limits{})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, li)
	}
	return Merge(idx)
}

// flat is the comparable part of a merged path.
type flat struct {
	Path, Link string
	Type       Type
	Mode       Mode
	Size       int64
}

// extracted flattens img with go-containerregistry's mutate.Extract.
func extracted(t testing.TB, img v1.Image) []flat {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []flat
	types := map[byte]Type{tar.TypeReg: TypeFile, tar.TypeDir: TypeDir, tar.TypeSymlink: TypeSymlink, tar.TypeLink: TypeHardlink, tar.TypeChar: TypeChar, tar.TypeBlock: TypeBlock, tar.TypeFifo: TypeFifo}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := flat{Path: path.Clean("/" + h.Name), Type: types[h.Typeflag], Mode: Mode(h.Mode) & 07777, Link: h.Linkname}
		if f.Type == TypeFile {
			f.Size = h.Size
		}
		if f.Type == TypeHardlink {
			f.Link = path.Clean("/" + h.Linkname)
		}
		out = append(out, f)
	}
	slicesSortFlat(out)
	return out
}

func slicesSortFlat(fs []flat) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Path < fs[j-1].Path; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func flatten(v *View) []flat {
	var out []flat
	for _, f := range v.Files {
		out = append(out, flat{Path: f.Path, Link: f.LinkTarget, Type: f.Type, Mode: f.Mode, Size: f.Size})
	}
	slicesSortFlat(out)
	return out
}

var (
	pax = strings.Repeat("deep/", 30) + "pax-name"
	gnu = "gnu/" + strings.Repeat("n", 200)
)

// mergeFixtures are images with whiteouts, opaque directories, hard links,
// symlinks, setuid files and long names, as layers of tar entries.
var mergeFixtures = map[string][][]tf{
	"whiteouts and opaque dirs": {
		{dir("etc/", 0o755), file("etc/hosts", 0o644, "127.0.0.1 localhost\n"), dir("var/", 0o755), dir("var/secret/", 0o700),
			file("var/secret/key", 0o600, strings.Repeat("k", 100)), dir("opt/", 0o755), dir("opt/data/", 0o755),
			file("opt/data/a", 0o644, "a"), dir("opt/data/sub/", 0o755), file("opt/data/sub/b", 0o644, "bb"), dir("tmp/", 0o1777)},
		{dir("var/secret/", 0o700), whiteout("var/secret/.wh.key"), dir("opt/data/", 0o755), whiteout("opt/data/.wh..wh..opq"),
			file("opt/data/c", 0o644, "ccc"), dir("etc/", 0o755), file("etc/hosts", 0o644, "::1 localhost\n")},
		{whiteout(".wh.tmp"), dir("etc/", 0o755), file("etc/motd", 0o666, "hi")},
	},
	"links, setuid and long names": {
		{dir("usr/", 0o755), dir("usr/bin/", 0o755), file("usr/bin/busybox", 0o755, "ELF busybox"),
			symlink("usr/bin/sh", "busybox"), symlink("usr/bin/abs", "/usr/bin/busybox"), hardlink("usr/bin/ln", "usr/bin/busybox"),
			file("usr/bin/su", 0o4755, "su"), file("usr/bin/wall", 0o2755, "wall"), dir("world/", 0o777),
			tf{Name: pax, Type: tar.TypeReg, Mode: 0o644, Body: "pax", Format: tar.FormatPAX},
			tf{Name: gnu, Type: tar.TypeReg, Mode: 0o644, Body: "gnu", Format: tar.FormatGNU}},
		{dir("usr/", 0o755), dir("usr/bin/", 0o755), file("usr/bin/sh", 0o755, "a real shell now"), whiteout("usr/bin/.wh.wall"),
			tf{Name: pax, Type: tar.TypeReg, Mode: 0o600, Body: "pax2", Format: tar.FormatPAX}},
	},
	"a file replaces a directory": {
		{dir("app/", 0o755), dir("app/lib/", 0o755), file("app/lib/x.so", 0o755, "xx"), file("app/run", 0o755, "run")},
		{file("app", 0o644, "now a file")},
		{dir("srv/", 0o755), symlink("srv/link", "../app")},
	},
}

func TestMergeMatchesExtract(t *testing.T) {
	for name, layers := range mergeFixtures {
		t.Run(name, func(t *testing.T) {
			img := imageOf(t, layers...)
			want := extracted(t, img)
			got := flatten(indexImage(t, img))
			if len(want) < 3 {
				t.Fatalf("mutate.Extract gave %d paths: %v", len(want), want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("merged view differs from mutate.Extract (-extract +ours):\n%s", diff)
			}
		})
	}
}

func ip(i int) *int { return &i }

func TestMergeChangesAndFindings(t *testing.T) {
	img := imageOf(t, mergeFixtures["whiteouts and opaque dirs"]...)
	v := indexImage(t, img)
	summaries := []LayerSummary{
		{Index: 0, Added: 11},
		{Index: 1, Added: 1, Modified: 4, Deleted: 4, WastedBytes: 0},
		{Index: 2, Added: 1, Modified: 1, Deleted: 1},
	}
	summaries[0].WastedBytes = 100 + 1 + 2 + int64(len("127.0.0.1 localhost\n"))
	for i := range summaries {
		summaries[i].Digest, summaries[i].DiffID, summaries[i].Size, summaries[i].Source = v.Layers[i].Digest, v.Layers[i].DiffID, v.Layers[i].Size, SourceStream
	}
	if diff := cmp.Diff(summaries, v.Layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	wantChanges1 := []Change{
		{Change: Modified, Entry: Entry{Path: "/var/secret", Type: TypeDir, Mode: 0o700}},
		{Change: Modified, Entry: Entry{Path: "/opt/data", Type: TypeDir, Mode: 0o755}},
		{Change: Added, Entry: Entry{Path: "/opt/data/c", Type: TypeFile, Mode: 0o644, Size: 3}},
		{Change: Modified, Entry: Entry{Path: "/etc", Type: TypeDir, Mode: 0o755}},
		{Change: Modified, Entry: Entry{Path: "/etc/hosts", Type: TypeFile, Mode: 0o644, Size: 14}},
		{Change: Deleted, Entry: Entry{Path: "/var/secret/key", Type: TypeFile, Mode: 0o600, Size: 100}},
		{Change: Deleted, Entry: Entry{Path: "/opt/data/a", Type: TypeFile, Mode: 0o644, Size: 1}},
		{Change: Deleted, Entry: Entry{Path: "/opt/data/sub", Type: TypeDir, Mode: 0o755}},
		{Change: Deleted, Entry: Entry{Path: "/opt/data/sub/b", Type: TypeFile, Mode: 0o644, Size: 2}},
	}
	if diff := cmp.Diff(wantChanges1, v.Changes[1]); diff != "" {
		t.Errorf("changes of layer 1 (-want +got):\n%s", diff)
	}
	wantFindings := []Finding{
		{Kind: FindingDeletedButPresent, Path: "/opt/data/a", Layer: 0, Bytes: 1, ByLayer: ip(1)},
		{Kind: FindingDeletedButPresent, Path: "/opt/data/sub/b", Layer: 0, Bytes: 2, ByLayer: ip(1)},
		{Kind: FindingDeletedButPresent, Path: "/var/secret/key", Layer: 0, Bytes: 100, ByLayer: ip(1)},
		{Kind: FindingOverwritten, Path: "/etc/hosts", Layer: 0, Bytes: 20, ByLayer: ip(1)},
		{Kind: FindingWastedBytes, Layer: 0, Bytes: 123},
		{Kind: FindingWorldWritable, Path: "/etc/motd", Layer: 2, Bytes: 2},
	}
	if diff := cmp.Diff(wantFindings, v.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if v.WastedBytes != 123 {
		t.Errorf("wastedBytes = %d, want 123", v.WastedBytes)
	}
}

func TestMergeRules(t *testing.T) {
	tests := []struct {
		name     string
		layers   []*Layer
		files    []string // path@layer
		findings []string // kind path@layer
	}{
		{
			name: "a whiteout hides lower layers only, not its own",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/a", Type: TypeFile, Size: 1}}},
				{Entries: []Entry{{Path: "/a", Type: TypeFile, Size: 2}}, Whiteouts: []string{"/a"}},
			},
			files:    []string{"/a@1"},
			findings: []string{"deletedButPresent /a@0", "wastedBytes @0"},
		},
		{
			name: "an opaque directory keeps the same layer's entries",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/d", Type: TypeDir}, {Path: "/d/old", Type: TypeFile}}},
				{Entries: []Entry{{Path: "/d/new", Type: TypeFile}}, OpaqueDirs: []string{"/d"}},
			},
			files: []string{"/d@0", "/d/new@1"},
		},
		{
			name: "a duplicate within a layer: the last wins, the first is wasted",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/x", Type: TypeFile, Size: 10}, {Path: "/x", Type: TypeFile, Size: 3}}},
			},
			files:    []string{"/x@0"},
			findings: []string{"wastedBytes @0"},
		},
		{
			name: "a file under a lower file replaces it with an implicit directory",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/f", Type: TypeFile, Size: 5}}},
				{Entries: []Entry{{Path: "/f/g", Type: TypeFile}}},
			},
			files:    []string{"/f/g@1"},
			findings: []string{"deletedButPresent /f@0", "wastedBytes @0"},
		},
		{
			name: "a whiteout of a missing path and escaping names change nothing",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/etc", Type: TypeDir}}},
				{Entries: []Entry{{Path: "../etc/passwd", Type: TypeFile, Size: 4, Escapes: true}}, Whiteouts: []string{"/nope/x"}},
			},
			files:    []string{"/etc@0"},
			findings: []string{"escapesRoot ../etc/passwd@1", "wastedBytes @1"},
		},
		{
			name: "setgid and sticky directories are not findings; setuid symlinks neither",
			layers: []*Layer{
				{Entries: []Entry{{Path: "/tmp", Type: TypeDir, Mode: 0o1777}, {Path: "/g", Type: TypeDir, Mode: 0o2775}, {Path: "/l", Type: TypeSymlink, Mode: 0o4777}}},
			},
			files: []string{"/g@0", "/l@0", "/tmp@0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Merge(tt.layers)
			var files, findings []string
			for _, f := range v.Files {
				files = append(files, f.Path+"@"+itoa(f.Layer))
			}
			for _, f := range v.Findings {
				findings = append(findings, f.Kind+" "+f.Path+"@"+itoa(f.Layer))
			}
			if diff := cmp.Diff(tt.files, files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, findings); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}
