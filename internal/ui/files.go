package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// FileIndexer lists an image's files on demand. When the Source also
// implements it, /files?ref=REF&platform=P shows the merged tree by directory
// (&dir=/usr/bin), a layer's changeset (&layer=N) and the findings.
type FileIndexer interface {
	// Files indexes the layers of ref for platform ("" for the default). The
	// error is shown to the user.
	Files(ctx context.Context, ref, platform string) (*FileIndex, error)
}

// FileIndex is an image's layer file index as the pages show it (the shape
// of `imageconfig files -o json`).
type FileIndex struct {
	ImageRef    string        `json:"imageRef"`
	Platform    string        `json:"platform"`
	Layers      []FileLayer   `json:"layers"`
	Files       []FileEntry   `json:"files"`
	Changes     [][]FileEntry `json:"-"`
	Findings    []FileFinding `json:"findings"`
	WastedBytes int64         `json:"wastedBytes"`
}

// FileLayer is one layer's changeset counts.
type FileLayer struct {
	Index       int    `json:"index"`
	Digest      string `json:"digest"`
	Added       int    `json:"added"`
	Modified    int    `json:"modified"`
	Deleted     int    `json:"deleted"`
	WastedBytes int64  `json:"wastedBytes"`
}

// FileEntry is a path of the merged tree, or of a changeset (Change set).
type FileEntry struct {
	Path       string `json:"path"`
	Type       string `json:"type"`
	Mode       string `json:"mode"`
	Size       int64  `json:"size"`
	Layer      int    `json:"layer"`
	LinkTarget string `json:"linkTarget,omitempty"`
	Change     string `json:"change,omitempty"`
}

// FileFinding is one finding; ByLayer is -1 when no later layer is involved.
type FileFinding struct {
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Layer   int    `json:"layer"`
	Bytes   int64  `json:"bytes"`
	ByLayer int    `json:"byLayer"`
}

// filesPage is the files template's data.
type filesPage struct {
	Index    *FileIndex
	Dir      string
	Crumbs   []link
	Rows     []fileRow
	Layer    int // -1: the tree
	Changes  []fileRow
	Command  string
	layerURL func(int) string
}

type link struct{ Text, URL string }

type fileRow struct {
	FileEntry
	Name, URL, LayerURL string
}

func (h *Handler) serveFiles(w http.ResponseWriter, r *http.Request) {
	fi, ok := h.opts.Source.(FileIndexer)
	if !ok {
		h.fail(w, r, http.StatusNotFound, "This UI does not index layer files.")
		return
	}
	q := r.URL.Query()
	ref, platform := strings.TrimSpace(q.Get("ref")), strings.TrimSpace(q.Get("platform"))
	if ref == "" {
		h.fail(w, r, http.StatusBadRequest, "Give a reference, such as ?ref=nginx:1.27.")
		return
	}
	dir, layer, ok := h.filesQuery(w, r)
	if !ok {
		return
	}
	idx, err := fi.Files(r.Context(), ref, platform)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "Indexing the layers failed: "+err.Error())
		return
	}
	keep := url.Values{"ref": {ref}}
	cmd := "imageconfig files " + ref
	if platform != "" {
		keep.Set("platform", platform)
		cmd += " --platform " + platform
	}
	h.renderFiles(w, r, idx, filesAt{path: "/files", keep: keep, command: cmd}, dir, layer, page{Ref: ref, Platform: platform})
}

// ObjectFileIndexer gives the full layer file index of an ImageConfig that
// asks for it (spec.files.index), as the manager indexed it. When
// Options.ObjectFiles is set, /namespaces/{namespace}/imageconfigs/{name}/files
// shows it, with the same pages as /files.
type ObjectFileIndexer interface {
	// ObjectFiles returns the index of obj's status.manifestDigest. The error
	// is shown to the user.
	ObjectFiles(ctx context.Context, obj *imagesv1alpha1.ImageConfig) (*FileIndex, error)
}

// objectFilesPath is the files page of an ImageConfig.
func objectFilesPath(namespace, name string) string {
	return "/namespaces/" + url.PathEscape(namespace) + "/imageconfigs/" + url.PathEscape(name) + "/files"
}

func (h *Handler) serveObjectFiles(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if h.opts.ObjectFiles == nil {
		h.fail(w, r, http.StatusNotFound, "This UI does not index layer files.")
		return
	}
	it, ok := h.getObject(w, r, ns, name)
	if !ok {
		return
	}
	obj := &it.Object
	if obj.Spec.Files == nil || !obj.Spec.Files.Index {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("ImageConfig %s/%s does not ask for its layer files: set spec.files.index to true.", ns, name))
		return
	}
	if obj.Status.ManifestDigest == "" {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("ImageConfig %s/%s is not resolved yet.", ns, name))
		return
	}
	dir, layer, ok := h.filesQuery(w, r)
	if !ok {
		return
	}
	idx, err := h.opts.ObjectFiles.ObjectFiles(r.Context(), obj)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "The layer file index is not available: "+err.Error())
		return
	}
	cmd := "imageconfig files " + obj.Status.ImageRef
	if obj.Status.Platform != "" {
		cmd += " --platform " + obj.Status.Platform
	}
	h.renderFiles(w, r, idx, filesAt{path: objectFilesPath(ns, name), command: cmd}, dir, layer, page{})
}

// filesQuery reads ?dir= and ?layer=; ok is false when it answered an error.
func (h *Handler) filesQuery(w http.ResponseWriter, r *http.Request) (dir string, layer int, ok bool) {
	q := r.URL.Query()
	dir = path.Clean("/" + q.Get("dir"))
	layer = -1
	if v := q.Get("layer"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.fail(w, r, http.StatusBadRequest, "layer: want a layer index from 0.")
			return "", 0, false
		}
		layer = n
	}
	return dir, layer, true
}

// renderFiles answers one page of idx (JSON by Accept): the tree at dir, or
// layer's changeset.
func (h *Handler) renderFiles(w http.ResponseWriter, r *http.Request, idx *FileIndex, at filesAt, dir string, layer int, p page) {
	if layer >= len(idx.Layers) {
		h.fail(w, r, http.StatusNotFound, "The image has "+strconv.Itoa(len(idx.Layers))+" layers.")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, idx)
		return
	}
	p.Title, p.Heading, p.Body = "files of "+idx.ImageRef+" · "+h.opts.Title, "Files of "+idx.ImageRef, buildFiles(idx, at, dir, layer)
	h.render(w, http.StatusOK, h.files, p)
}

// filesAt says where a files page lives: its path, the query parameters every
// link keeps, and the equivalent command line.
type filesAt struct {
	path    string
	keep    url.Values
	command string
}

func (a filesAt) url(extra url.Values) string {
	v := url.Values{}
	for k, vs := range a.keep {
		v[k] = vs
	}
	for k, vs := range extra {
		v[k] = vs
	}
	if len(v) == 0 {
		return a.path
	}
	return a.path + "?" + v.Encode()
}

// buildFiles lays out one directory of the merged tree (its named entries and
// the directories implied by deeper paths), or one layer's changeset.
func buildFiles(idx *FileIndex, at filesAt, dir string, layer int) *filesPage {
	p := &filesPage{Index: idx, Dir: dir, Layer: layer, layerURL: func(i int) string { return at.url(url.Values{"layer": {strconv.Itoa(i)}}) }}
	if layer >= 0 {
		p.Command = at.command + " --layer " + strconv.Itoa(layer)
		for _, c := range idx.Changes[layer] {
			p.Changes = append(p.Changes, fileRow{FileEntry: c, Name: c.Path})
		}
		return p
	}
	p.Command = at.command
	if dir != "/" {
		p.Command += " --path " + dir
	}
	p.Crumbs = append(p.Crumbs, link{"/", at.url(nil)})
	walked := ""
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" {
			continue
		}
		walked += "/" + c
		p.Crumbs = append(p.Crumbs, link{c, at.url(url.Values{"dir": {walked}})})
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	seen := map[string]bool{}
	for _, f := range idx.Files {
		rest, ok := strings.CutPrefix(f.Path, prefix)
		if !ok || rest == "" {
			continue
		}
		name, deeper := rest, false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, deeper = rest[:i], true
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		row := fileRow{FileEntry: f, Name: name}
		if deeper { // a directory that no layer names
			row.FileEntry = FileEntry{Path: prefix + name, Type: "dir", Layer: -1}
		}
		if row.Type == "dir" {
			row.URL = at.url(url.Values{"dir": {row.Path}})
		}
		if row.Layer >= 0 {
			row.LayerURL = p.layerURL(row.Layer)
		}
		p.Rows = append(p.Rows, row)
	}
	slices.SortFunc(p.Rows, func(a, b fileRow) int { return strings.Compare(a.Name, b.Name) })
	return p
}

// LayerURL links a layer's changeset.
func (p *filesPage) LayerURL(i int) string { return p.layerURL(i) }
