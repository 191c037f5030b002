package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

func init() { addCommand(newFilesCommand) }

// indexFlags are the flags of the commands that index layer contents.
type indexFlags struct {
	cacheDir     string
	cacheSize    int64
	noCache      bool
	maxLayerSize int64
	maxEntries   int
	concurrency  int
	timeout      time.Duration
}

func (f *indexFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.cacheDir, "cache-dir", "", "directory of the layer index cache, shared with other runs (default: the user cache directory's imageconfig/files)")
	fs.Int64Var(&f.cacheSize, "cache-size", files.DefaultCacheSize, "cap of the layer index cache in bytes; the least recently used indexes go first")
	fs.BoolVar(&f.noCache, "no-cache", false, "index every layer again, without reading or writing the cache")
	fs.Int64Var(&f.maxLayerSize, "max-layer-size", files.DefaultMaxLayerSize, "largest compressed layer to index, in bytes")
	fs.IntVar(&f.maxEntries, "max-entries", files.DefaultMaxEntries, "most tar entries in one layer")
	fs.IntVar(&f.concurrency, "concurrency", files.DefaultConcurrency, "layers indexed at once")
	fs.DurationVar(&f.timeout, "index-timeout", 10*time.Minute, "bound on reading the layers, after the resolution")
}

func (f *indexFlags) check() error {
	if f.maxLayerSize <= 0 || f.maxEntries <= 0 || f.concurrency <= 0 || f.timeout <= 0 || f.cacheSize <= 0 {
		return &usageError{"--max-layer-size, --max-entries, --concurrency, --index-timeout and --cache-size take a positive value"}
	}
	return nil
}

// index resolves opts and indexes the layers of its platform.
func (f *indexFlags) index(ctx context.Context, opts manifests.Options) (*manifests.Result, *files.View, error) {
	res, err := manifests.Resolve(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	ix := &files.Indexer{Limits: files.Limits{MaxLayerSize: f.maxLayerSize, MaxEntries: f.maxEntries}, Concurrency: f.concurrency}
	if !f.noCache {
		dir := f.cacheDir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, nil, fmt.Errorf("no user cache directory (%w): give --cache-dir or --no-cache", err)
			}
			dir = filepath.Join(base, "imageconfig", "files")
		}
		if ix.Cache, err = files.OpenCache(dir, f.cacheSize); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	v, err := ix.IndexResolved(ctx, opts, res)
	return res, v, err
}

// filesOutput is the JSON and YAML shape of the files command.
type filesOutput struct {
	ImageRef string `json:"imageRef,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Layers summarise each layer's changeset.
	Layers []files.LayerSummary `json:"layers"`
	// Files is the merged tree (without --layer).
	Files []files.File `json:"files,omitempty"`
	// Layer and Changes are one layer's changeset (with --layer).
	Layer   *int           `json:"layer,omitempty"`
	Changes []files.Change `json:"changes,omitempty"`
	// Findings concern the paths shown.
	Findings    []files.Finding `json:"findings"`
	WastedBytes int64           `json:"wastedBytes"`
}

func newFilesCommand(a *app) *cobra.Command {
	var (
		output string
		layer  int
		prefix string
		find   string
		idx    indexFlags
	)
	cmd := a.refCommand(&cobra.Command{
		Use:   "files REF",
		Short: "List the image's files from its layers, with the layer that last wrote each path, without pulling the image",
		Long: `List the files of the image as a container sees them: every layer is streamed
once from the registry, only its tar headers are read (no file is stored), its
digest and diffID are verified, and the layers are merged with the OCI whiteout
rules. The LAYER column is the 0-based index (manifest order) of the layer that
last wrote the path. eStargz layers are listed from their table of contents with
two Range requests. Layer indexes are cached on disk by diffID.

--layer N shows what layer N adds (A), modifies (M) and deletes (D).
The findings are setuid and setgid files, world-writable files and directories
(without the sticky bit), deletedButPresent (deleted by a later layer while its
bytes still ship), overwritten, wastedBytes and names that escape the root.`,
		Example: `  imageconfig files nginx:1.27
  imageconfig files nginx:1.27 --path /etc --find '*.conf'
  imageconfig files nginx:1.27 --layer 2
  imageconfig files nginx:1.27 -o json`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, v, err := idx.index(cmd.Context(), opts)
		if err != nil {
			return err
		}
		if layer >= len(v.Layers) {
			return fmt.Errorf("--layer %d: the image has %d layers (0 to %d)", layer, len(v.Layers), len(v.Layers)-1)
		}
		match := pathFilter(prefix, find)
		out := filesOutput{ImageRef: res.ImageRef, Digest: res.Digest, Platform: res.Platform, Layers: v.Layers, WastedBytes: v.WastedBytes, Findings: []files.Finding{}}
		if layer >= 0 {
			out.Layer = &layer
			for _, c := range v.Changes[layer] {
				if match(c.Path) {
					out.Changes = append(out.Changes, c)
				}
			}
		} else {
			for _, f := range v.Files {
				if match(f.Path) {
					out.Files = append(out.Files, f)
				}
			}
		}
		for _, f := range v.Findings {
			if (f.Path == "" || match(f.Path)) && (layer < 0 || f.Layer == layer || f.ByLayer != nil && *f.ByLayer == layer) {
				out.Findings = append(out.Findings, f)
			}
		}
		if output != outputTable {
			return writeStructured(a.stdout, output, out)
		}
		return writeFilesTable(a, out)
	})
	addOutputFlag(cmd, &output)
	cmd.Flags().IntVar(&layer, "layer", -1, "show the changeset of layer N (0-based, manifest order), deletions included")
	cmd.Flags().StringVar(&prefix, "path", "", "only paths at or under this absolute path")
	cmd.Flags().StringVar(&find, "find", "", "only paths whose name (or, with a /, whole path) matches this glob")
	idx.add(cmd.Flags())
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		if cmd.Flags().Changed("layer") && layer < 0 {
			return &usageError{"--layer takes a layer index from 0"}
		}
		if prefix != "" && !strings.HasPrefix(prefix, "/") {
			return &usageError{fmt.Sprintf("--path %q: want an absolute path", prefix)}
		}
		if _, err := path.Match(find, ""); err != nil {
			return &usageError{fmt.Sprintf("--find %q: %v", find, err)}
		}
		if err := idx.check(); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return cmd
}

// pathFilter keeps the paths under prefix whose name matches glob; a glob
// with a slash matches the whole path.
func pathFilter(prefix, glob string) func(string) bool {
	prefix = path.Clean("/" + prefix)
	return func(p string) bool {
		if prefix != "/" && p != prefix && !strings.HasPrefix(p, prefix+"/") {
			return false
		}
		if glob == "" {
			return true
		}
		subject := path.Base(p)
		if strings.Contains(glob, "/") {
			subject = p
		}
		ok, _ := path.Match(glob, subject)
		return ok
	}
}

func writeFilesTable(a *app, out filesOutput) error {
	t := newTable()
	if out.Layer != nil {
		t.row("CHANGE", "MODE", "UID/GID", "SIZE", "PATH")
		for _, c := range out.Changes {
			t.row(strings.ToUpper(c.Change[:1]), c.LongMode(), fmt.Sprintf("%d/%d", c.UID, c.GID), strconv.FormatInt(c.Size, 10), entryName(c.Entry))
		}
	} else {
		t.row("MODE", "UID/GID", "SIZE", "LAYER", "PATH")
		for _, f := range out.Files {
			t.row(f.LongMode(), fmt.Sprintf("%d/%d", f.UID, f.GID), strconv.FormatInt(f.Size, 10), strconv.Itoa(f.Layer), entryName(f.Entry))
		}
	}
	if err := t.writeTo(a.stdout); err != nil {
		return err
	}
	if len(out.Findings) > 0 {
		fmt.Fprintln(a.stdout)
		ft := newTable()
		ft.row("FINDING", "LAYER", "BYTES", "PATH")
		for _, f := range out.Findings {
			l := strconv.Itoa(f.Layer)
			if f.ByLayer != nil {
				l += "→" + strconv.Itoa(*f.ByLayer)
			}
			ft.row(f.Kind, l, strconv.FormatInt(f.Bytes, 10), safeName(f.Path))
		}
		if err := ft.writeTo(a.stdout); err != nil {
			return err
		}
	}
	what := plural(len(out.Files), "path")
	if out.Layer != nil {
		what = fmt.Sprintf("%s in layer %d", plural(len(out.Changes), "change"), *out.Layer)
	}
	_, err := fmt.Fprintf(a.stdout, "\n%s, %s, %d bytes wasted\n", what, plural(len(out.Layers), "layer"), out.WastedBytes)
	return err
}

// plural is "1 path" or "n paths".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// entryName is the path as ls -l shows it, with a link's target.
func entryName(e files.Entry) string {
	s := safeName(e.Path)
	switch e.Type {
	case files.TypeSymlink:
		s += " -> " + safeName(e.LinkTarget)
	case files.TypeHardlink:
		s += " link to " + safeName(e.LinkTarget)
	}
	return s
}

// safeName quotes a name that holds control characters, other non-printable
// runes or invalid UTF-8, so that a hostile name cannot drive the terminal.
func safeName(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.QuoteToASCII(s)
	}
	return s
}

// layersView is the layer index that layers --files adds; nil without --files.
type layersView struct{ v *files.View }

// resolveLayers resolves opts and, with withFiles, indexes the layers' files.
func resolveLayers(ctx context.Context, opts manifests.Options, withFiles bool, idx *indexFlags) (*manifests.Result, *layersView, error) {
	if !withFiles {
		res, err := manifests.Resolve(ctx, opts)
		return res, nil, err
	}
	res, v, err := idx.index(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return res, &layersView{v}, nil
}

func (lv *layersView) layers() []files.LayerSummary {
	if lv == nil {
		return nil
	}
	return lv.v.Layers
}

func (lv *layersView) wasted() int64 {
	if lv == nil {
		return 0
	}
	return lv.v.WastedBytes
}

// columns adds the changeset headers before the last (created-by) column.
func (lv *layersView) columns(cells ...string) []string {
	return lv.insert(cells, "ADDED", "MODIFIED", "DELETED", "WASTED")
}

// cells adds layer i's changeset counts before the last column; i < 0 is a step without a layer.
func (lv *layersView) cells(i int, cells ...string) []string {
	if lv == nil {
		return cells
	}
	if i < 0 || i >= len(lv.v.Layers) {
		return lv.insert(cells, "", "", "", "")
	}
	s := lv.v.Layers[i]
	return lv.insert(cells, strconv.Itoa(s.Added), strconv.Itoa(s.Modified), strconv.Itoa(s.Deleted), strconv.FormatInt(s.WastedBytes, 10))
}

func (lv *layersView) insert(cells []string, extra ...string) []string {
	if lv == nil {
		return cells
	}
	out := append([]string{}, cells[:len(cells)-1]...)
	return append(append(out, extra...), cells[len(cells)-1])
}

// Files indexes ref's layers for the UI's /files page, through the default
// on-disk cache, and maps the view to the UI's shape.
func (s *resolveSource) Files(ctx context.Context, ref, platform string) (*ui.FileIndex, error) {
	opts, err := s.options(ref, platform)
	if err != nil {
		return nil, err
	}
	idx := indexFlags{cacheSize: files.DefaultCacheSize, maxLayerSize: files.DefaultMaxLayerSize, maxEntries: files.DefaultMaxEntries,
		concurrency: files.DefaultConcurrency, timeout: 10 * time.Minute}
	res, v, err := idx.index(ctx, opts)
	if err != nil {
		return nil, err
	}
	return imagestatus.FileIndex(res.ImageRef, res.Platform, v), nil
}
