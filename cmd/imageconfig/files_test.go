package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// filesImage has a secret deleted by a later layer, a setuid binary, a
// replaced config and a hostile name.
func filesImage(t *testing.T) v1.Image {
	t.Helper()
	type ent struct {
		name string
		mode int64
		body string
		typ  byte
		link string
	}
	layers := [][]ent{
		{{name: "etc/", mode: 0o755, typ: tar.TypeDir}, {name: "etc/app.conf", mode: 0o644, body: "a=1\n"}, {name: "root/", mode: 0o700, typ: tar.TypeDir},
			{name: "root/.netrc", mode: 0o600, body: "machine x password hunter2\n"}, {name: "usr/bin/su", mode: 0o4755, body: "ELF"},
			{name: "usr/bin/sh", typ: tar.TypeSymlink, link: "su", mode: 0o777}},
		{{name: "root/.wh..netrc", mode: 0o600}, {name: "etc/app.conf", mode: 0o644, body: "a=2\n"}, {name: "tmp/\x1b[31mred\n", mode: 0o644, body: "x"}},
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range l {
			typ := e.typ
			if typ == 0 {
				typ = tar.TypeReg
			}
			if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: typ, Linkname: e.link}); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		b := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// finding is a finding of `imageconfig files -o json`.
type finding struct {
	Kind  string `json:"kind"`
	Path  string `json:"path"`
	Layer int    `json:"layer"`
	Bytes int64  `json:"bytes"`
}

func TestFilesCommand(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	reg.PushImage(t, "app", "v1", filesImage(t))
	ref := reg.Host() + "/app:v1"
	cache := t.TempDir()

	reg.Log().Reset()
	r := imageconfig(t, "files", ref, "--insecure", "--cache-dir", cache, "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := reg.Log().BlobGETs(); n != 3 {
		t.Errorf("first listing made %d blob requests, want 3: the config and 2 layers", n)
	}
	var out struct {
		Layers      []map[string]any `json:"layers"`
		Files       []map[string]any `json:"files"`
		Finds       []finding        `json:"findings"`
		WastedBytes int64            `json:"wastedBytes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, l := range out.Layers {
		for _, k := range []string{"index", "digest", "diffID", "added", "modified", "deleted", "wastedBytes"} {
			if _, ok := l[k]; !ok {
				t.Errorf("layer %v has no %q", l, k)
			}
		}
	}
	var paths []string
	for _, f := range out.Files {
		paths = append(paths, f["path"].(string)+" "+f["type"].(string)+" "+f["mode"].(string))
		if f["path"] == "/usr/bin/sh" && f["linkTarget"] != "su" {
			t.Errorf("/usr/bin/sh links to %v", f["linkTarget"])
		}
	}
	wantPaths := []string{"/etc dir 755", "/etc/app.conf file 644", "/root dir 700", "/tmp/\x1b[31mred\n file 644", "/usr/bin/sh symlink 777", "/usr/bin/su file 4755"}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	wantFinds := []finding{
		{Kind: "deletedButPresent", Path: "/root/.netrc", Layer: 0, Bytes: int64(len("machine x password hunter2\n"))},
		{Kind: "overwritten", Path: "/etc/app.conf", Layer: 0, Bytes: int64(len("a=1\n"))},
		{Kind: "setuid", Path: "/usr/bin/su", Layer: 0, Bytes: int64(len("ELF"))},
		{Kind: "wastedBytes", Layer: 0, Bytes: int64(len("machine x password hunter2\n") + len("a=1\n"))},
	}
	if diff := cmp.Diff(wantFinds, out.Finds); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if out.WastedBytes != int64(len("machine x password hunter2\n")+len("a=1\n")) {
		t.Errorf("wastedBytes = %d", out.WastedBytes)
	}

	// A second listing is served by the cache: no layer blob request.
	reg.Log().Reset()
	r = imageconfig(t, "files", ref, "--insecure", "--cache-dir", cache)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := reg.Log().BlobGETs(); n != 1 {
		t.Errorf("second listing made %d blob requests, want 1: the config, and no layer", n)
	}
	for _, want := range []string{"-rwsr-xr-x", "/usr/bin/sh -> su", `"/tmp/\x1b[31mred\n"`, "deletedButPresent", "6 paths, 2 layers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("the table carries a raw escape character")
	}

	// --layer 1: its changeset, deletions included.
	r = imageconfig(t, "files", ref, "--insecure", "--cache-dir", cache, "--layer", "1")
	for _, want := range []string{"D       -rw-------", "/root/.netrc", "M       -rw-r--r--  0/0      4     /etc/app.conf", "3 changes in layer 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--layer 1 lacks %q:\n%s", want, r.stdout)
		}
	}
	// --path and --find.
	r = imageconfig(t, "files", ref, "--insecure", "--cache-dir", cache, "--path", "/usr", "--find", "s[h]")
	if !strings.Contains(r.stdout, "/usr/bin/sh") || strings.Contains(r.stdout, "/usr/bin/su") || strings.Contains(r.stdout, "/etc") {
		t.Errorf("--path /usr --find 's[h]':\n%s", r.stdout)
	}
	// layers --files.
	r = imageconfig(t, "layers", ref, "--insecure", "--cache-dir", cache, "--files")
	if !strings.Contains(r.stdout, "ADDED  MODIFIED  DELETED  WASTED") {
		t.Errorf("layers --files:\n%s", r.stdout)
	}
}

func TestFilesCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"files", "x/y:1", "--layer", "-2"}, "--layer takes a layer index"},
		{[]string{"files", "x/y:1", "--path", "etc"}, "want an absolute path"},
		{[]string{"files", "x/y:1", "--find", "[", "--no-cache"}, "--find"},
		{[]string{"files", "x/y:1", "--max-entries", "0"}, "positive"},
		{[]string{"files", "x/y:1", "-o", "xml"}, "want table, json or yaml"},
	}
	for _, tt := range tests {
		r := imageconfig(t, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestServeFiles: imageconfig serve's source indexes files for the UI's /files
// page, through the cache in the user cache directory.
func TestServeFiles(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testregistry.New(t, testregistry.Options{})
	reg.PushImage(t, "app", "v1", filesImage(t))
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, platform: "linux/amd64", insecure: true, timeout: time.Minute}
	src := &resolveSource{a: a, ttl: time.Minute, max: 4, now: time.Now}
	idx, err := src.Files(context.Background(), reg.Host()+"/app:v1", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range idx.Files {
		got = append(got, f.Path+" "+f.Mode+" "+strconv.Itoa(f.Layer))
	}
	want := []string{"/etc drwxr-xr-x 0", "/etc/app.conf -rw-r--r-- 1", "/root drwx------ 0", "/tmp/\x1b[31mred\n -rw-r--r-- 1", "/usr/bin/sh lrwxrwxrwx 0", "/usr/bin/su -rwsr-xr-x 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var changes [][]string
	for _, layer := range idx.Changes {
		var c []string
		for _, e := range layer {
			c = append(c, e.Change+" "+e.Path)
		}
		changes = append(changes, c)
	}
	wantChanges := [][]string{
		{"added /etc", "added /etc/app.conf", "added /root", "added /root/.netrc", "added /usr/bin/su", "added /usr/bin/sh"},
		{"modified /etc/app.conf", "added /tmp/\x1b[31mred\n", "deleted /root/.netrc"},
	}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	wantFindings := []ui.FileFinding{
		{Kind: "deletedButPresent", Path: "/root/.netrc", Layer: 0, Bytes: 27, ByLayer: 1},
		{Kind: "overwritten", Path: "/etc/app.conf", Layer: 0, Bytes: 4, ByLayer: 1},
		{Kind: "setuid", Path: "/usr/bin/su", Layer: 0, Bytes: 3, ByLayer: -1},
		{Kind: "wastedBytes", Layer: 0, Bytes: 31, ByLayer: -1},
	}
	if diff := cmp.Diff(wantFindings, idx.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	reg.Log().Reset()
	if _, err := src.Files(context.Background(), reg.Host()+"/app:v1", ""); err != nil {
		t.Fatal(err)
	}
	if n := reg.Log().BlobGETs(); n != 1 {
		t.Errorf("a second page view made %d blob requests, want 1 (the config)", n)
	}
}
