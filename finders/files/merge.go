package files

import (
	"path"
	"slices"
	"strings"
)

// Change kinds of a layer's changeset.
const (
	Added    = "added"
	Modified = "modified"
	Deleted  = "deleted"
)

// Finding kinds.
const (
	// FindingSetuid is a visible regular file with the setuid bit.
	FindingSetuid = "setuid"
	// FindingSetgid is a visible regular file with the setgid bit.
	FindingSetgid = "setgid"
	// FindingWorldWritable is a visible file, or a directory without the sticky
	// bit, that anyone may write.
	FindingWorldWritable = "worldWritable"
	// FindingDeletedButPresent is a file a later layer deletes while its bytes
	// still ship in the layer that wrote it (a secret removed by a later RUN rm).
	FindingDeletedButPresent = "deletedButPresent"
	// FindingOverwritten is a file a later layer replaces.
	FindingOverwritten = "overwritten"
	// FindingWastedBytes is a layer's bytes that no path of the merged view shows.
	FindingWastedBytes = "wastedBytes"
	// FindingEscapesRoot is a tar name or hard link target that would leave the
	// root, such as "../etc/passwd"; it is kept as data and never applied.
	FindingEscapesRoot = "escapesRoot"
)

// Change is one path a layer adds, modifies or deletes.
type Change struct {
	// Change is Added, Modified or Deleted.
	Change string `json:"change"`
	Entry
}

// File is a path of the merged view with the layer that last wrote it.
type File struct {
	Entry
	// Layer is the 0-based index (manifest order) of the layer that last wrote the path.
	Layer int `json:"layer"`
}

// Finding is something worth a researcher's look.
type Finding struct {
	// Kind is one of the Finding* constants.
	Kind string `json:"kind"`
	// Path is the file concerned; empty for FindingWastedBytes.
	Path string `json:"path,omitempty"`
	// Layer is the layer that wrote the file (or whose bytes are wasted).
	Layer int `json:"layer"`
	// Bytes is the file's size, or the wasted bytes.
	Bytes int64 `json:"bytes"`
	// ByLayer is the later layer that deleted or replaced the file.
	ByLayer *int `json:"byLayer,omitempty"`
}

// LayerSummary is one layer's changeset counts.
type LayerSummary struct {
	// Index is the 0-based index in manifest order.
	Index int `json:"index"`
	// Digest is the compressed blob's digest.
	Digest string `json:"digest"`
	// DiffID is the uncompressed tar's digest.
	DiffID string `json:"diffID"`
	// Size is the compressed size.
	Size int64 `json:"size"`
	// Source says how the layer was indexed: "stream" or "estargz".
	Source string `json:"source,omitempty"`
	// Added, Modified and Deleted count the layer's changes to the layers below it.
	Added    int `json:"added"`
	Modified int `json:"modified"`
	Deleted  int `json:"deleted"`
	// WastedBytes are the bytes of the layer's files that the merged view does not show.
	WastedBytes int64 `json:"wastedBytes"`
}

// View is an image's merged file tree, its layers' changesets and its findings.
type View struct {
	// Layers summarise each layer's changeset.
	Layers []LayerSummary `json:"layers"`
	// Changes are each layer's changes, by layer index: its added and modified
	// entries in tar order, then what it deleted.
	Changes [][]Change `json:"-"`
	// Files is the merged tree, sorted by path: what a container sees.
	Files []File `json:"files"`
	// Findings are sorted by kind, then layer and path.
	Findings []Finding `json:"findings"`
	// WastedBytes is the sum of the layers' wasted bytes.
	WastedBytes int64 `json:"wastedBytes"`
}

// node is one path of the merged tree. Directories that no layer names but
// that hold named paths are implicit: their entry is nil.
type node struct {
	entry    *Entry
	layer    int
	children map[string]*node
}

type merger struct {
	root    *node
	view    *View
	changes [][]Change
}

// Merge applies the layers in order, as the OCI image spec's changeset rules
// say: a layer's whiteouts and opaque directories delete from the layers
// below it, then its entries are added; a non-directory replaces a directory
// with everything under it. The layers' Entries are not modified.
func Merge(layers []*Layer) *View {
	m := &merger{root: &node{layer: -1}, view: &View{}, changes: make([][]Change, len(layers))}
	for i, l := range layers {
		m.view.Layers = append(m.view.Layers, LayerSummary{Index: i, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, Source: l.Source})
		m.apply(i, l)
	}
	m.collect(layers)
	m.view.Changes = m.changes
	return m.view
}

func (m *merger) apply(i int, l *Layer) {
	var deleted []Change
	for _, w := range l.Whiteouts {
		parent, base := m.lookupParent(w)
		if parent == nil || parent.children[base] == nil {
			continue
		}
		n := parent.children[base]
		delete(parent.children, base)
		deleted = m.removed(deleted, w, n, i)
	}
	for _, d := range l.OpaqueDirs {
		n := m.lookup(d)
		if n == nil {
			continue
		}
		for _, name := range sortedKeys(n.children) {
			deleted = m.removed(deleted, path.Join(d, name), n.children[name], i)
		}
		n.children = nil
	}
	for k := range l.Entries {
		e := &l.Entries[k]
		if e.Escapes {
			m.view.Findings = append(m.view.Findings, Finding{Kind: FindingEscapesRoot, Path: e.Path, Layer: i, Bytes: e.Size})
			continue
		}
		if e.Path == "/" {
			if m.root.entry == nil || m.root.layer != i {
				m.changes[i] = append(m.changes[i], Change{Change: changeKind(m.root), Entry: *e})
			}
			m.root.entry, m.root.layer = e, i
			continue
		}
		parent := m.mkdirAll(path.Dir(e.Path), i, &deleted)
		base := path.Base(e.Path)
		old := parent.children[base]
		if old != nil && old.layer != i {
			m.changes[i] = append(m.changes[i], Change{Change: changeKind(old), Entry: *e})
			if old.entry != nil && old.entry.Type != TypeDir {
				by := i
				m.view.Findings = append(m.view.Findings, Finding{Kind: FindingOverwritten, Path: e.Path, Layer: old.layer, Bytes: old.entry.Size, ByLayer: &by})
			}
		} else if old == nil {
			m.changes[i] = append(m.changes[i], Change{Change: Added, Entry: *e})
		}
		n := old
		if n == nil {
			n = &node{}
			if parent.children == nil {
				parent.children = map[string]*node{}
			}
			parent.children[base] = n
		}
		if e.Type != TypeDir {
			for _, name := range sortedKeys(n.children) {
				deleted = m.removed(deleted, path.Join(e.Path, name), n.children[name], i)
			}
			n.children = nil
		}
		n.entry, n.layer = e, i
	}
	m.changes[i] = append(m.changes[i], deleted...)
}

func changeKind(old *node) string {
	if old.entry == nil {
		return Added // an implicit directory becomes a named one
	}
	return Modified
}

// removed records the deletion by layer i of the subtree n at p (from lower layers).
func (m *merger) removed(deleted []Change, p string, n *node, i int) []Change {
	if n.entry != nil {
		e := *n.entry
		e.Path = p
		deleted = append(deleted, Change{Change: Deleted, Entry: e})
		if e.Type == TypeFile && e.Size > 0 {
			by := i
			m.view.Findings = append(m.view.Findings, Finding{Kind: FindingDeletedButPresent, Path: p, Layer: n.layer, Bytes: e.Size, ByLayer: &by})
		}
	}
	for _, name := range sortedKeys(n.children) {
		deleted = m.removed(deleted, path.Join(p, name), n.children[name], i)
	}
	return deleted
}

// mkdirAll returns the node of directory dir, creating implicit directories
// for missing components. A non-directory in the way is replaced (deleted by layer i).
func (m *merger) mkdirAll(dir string, i int, deleted *[]Change) *node {
	n := m.root
	if dir == "/" {
		return n
	}
	p := ""
	for _, c := range strings.Split(dir[1:], "/") {
		p += "/" + c
		child := n.children[c]
		if child != nil && child.entry != nil && child.entry.Type != TypeDir {
			*deleted = m.removed(*deleted, p, child, i)
			child = nil
		}
		if child == nil {
			child = &node{layer: -1}
			if n.children == nil {
				n.children = map[string]*node{}
			}
			n.children[c] = child
		}
		n = child
	}
	return n
}

func (m *merger) lookup(p string) *node {
	if p == "/" {
		return m.root
	}
	parent, base := m.lookupParent(p)
	if parent == nil {
		return nil
	}
	return parent.children[base]
}

func (m *merger) lookupParent(p string) (*node, string) {
	dir, base := path.Split(p)
	n := m.root
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" {
			continue
		}
		if n = n.children[c]; n == nil {
			return nil, ""
		}
	}
	return n, base
}

// collect walks the final tree for the file list, the findings on visible
// files and the wasted bytes.
func (m *merger) collect(layers []*Layer) {
	visible := make([]int64, len(layers))
	var walk func(p string, n *node)
	walk = func(p string, n *node) {
		if e := n.entry; e != nil {
			f := File{Entry: *e, Layer: n.layer}
			f.Path = p
			m.view.Files = append(m.view.Files, f)
			if e.Type == TypeFile {
				visible[n.layer] += e.Size
			}
			m.view.Findings = append(m.view.Findings, modeFindings(f)...)
		}
		for _, name := range sortedKeys(n.children) {
			walk(path.Join(p, name), n.children[name])
		}
	}
	walk("/", m.root)
	for i, l := range layers {
		var shipped int64
		for _, e := range l.Entries {
			if e.Type == TypeFile {
				shipped += e.Size
			}
		}
		s := &m.view.Layers[i]
		s.WastedBytes = shipped - visible[i]
		m.view.WastedBytes += s.WastedBytes
		if s.WastedBytes > 0 {
			m.view.Findings = append(m.view.Findings, Finding{Kind: FindingWastedBytes, Layer: i, Bytes: s.WastedBytes})
		}
		for _, c := range m.changes[i] {
			switch c.Change {
			case Added:
				s.Added++
			case Modified:
				s.Modified++
			case Deleted:
				s.Deleted++
			}
		}
	}
	slices.SortStableFunc(m.view.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if a.Layer != b.Layer {
			return a.Layer - b.Layer
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// modeFindings are the setuid, setgid and world-writable findings of a visible path.
func modeFindings(f File) []Finding {
	var out []Finding
	add := func(kind string) {
		out = append(out, Finding{Kind: kind, Path: f.Path, Layer: f.Layer, Bytes: f.Size})
	}
	switch f.Type {
	case TypeFile:
		if f.Mode&ModeSetuid != 0 {
			add(FindingSetuid)
		}
		if f.Mode&ModeSetgid != 0 {
			add(FindingSetgid)
		}
		if f.Mode&ModeOtherW != 0 {
			add(FindingWorldWritable)
		}
	case TypeDir:
		if f.Mode&ModeOtherW != 0 && f.Mode&ModeSticky == 0 {
			add(FindingWorldWritable)
		}
	}
	return out
}

func sortedKeys(m map[string]*node) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
