package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

func init() { addCommand(newLayersCommand) }

// layersOutput is the JSON and YAML shape of the layers command: the status'
// field names, and the build history with its empty-layer steps.
type layersOutput struct {
	ImageRef   string           `json:"imageRef,omitempty"`
	Digest     string           `json:"digest,omitempty"`
	Platform   string           `json:"platform,omitempty"`
	LayerCount int32            `json:"layerCount"`
	TotalSize  int64            `json:"totalSize"`
	History    []manifests.Step `json:"history"`
	// ShownSize is the size of the layers shown, with --top.
	ShownSize int64 `json:"shownSize,omitempty"`
	// LayerFiles are the layers' changeset counts and wasted bytes, with --files.
	LayerFiles []files.LayerSummary `json:"layerFiles,omitempty"`
	// WastedBytes is the image's wasted bytes, with --files.
	WastedBytes int64 `json:"wastedBytes,omitempty"`
}

func newLayersCommand(a *app) *cobra.Command {
	var (
		output   string
		sortBy   string
		top      int
		truncate int
		withFile bool
		idx      indexFlags
	)
	cmd := a.refCommand(&cobra.Command{
		Use:   "layers REF",
		Short: "Print one row per build step: layer index, size, share of the total and the Dockerfile instruction",
		Long: `Print the image's build history, one row per step in build order: the layer's
index, its compressed size, its share of the total, and the instruction that
created it, rendered as a Dockerfile line. Steps that created no layer (ENV,
LABEL, CMD…) are shown, marked "(empty)", without a size.`,
		Example: `  imageconfig layers nginx:1.27
  imageconfig layers nginx:1.27 --sort size --top 3
  imageconfig layers nginx:1.27 --truncate 80 -o json`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, view, err := resolveLayers(cmd.Context(), opts, withFile, &idx)
		if err != nil {
			return err
		}
		steps, err := manifests.History(res.RawConfig, res.Layers)
		if err != nil {
			return err
		}
		if sortBy == "size" {
			slices.SortStableFunc(steps, func(x, y manifests.Step) int {
				switch {
				case x.EmptyLayer != y.EmptyLayer:
					if x.EmptyLayer {
						return 1
					}
					return -1
				case x.Size > y.Size:
					return -1
				case x.Size < y.Size:
					return 1
				}
				return 0
			})
		}
		var shown int64
		if top > 0 {
			steps = largest(steps, top)
			for _, s := range steps {
				shown += s.Size
			}
		}
		if output != outputTable {
			return writeStructured(a.stdout, output, layersOutput{
				ImageRef: res.ImageRef, Digest: res.Digest, Platform: res.Platform,
				LayerCount: res.LayerCount, TotalSize: res.TotalSize, History: steps, ShownSize: shown,
				LayerFiles: view.layers(), WastedBytes: view.wasted(),
			})
		}
		t := newTable()
		t.row(view.columns("#", "SIZE", "SHARE", "CREATED BY")...)
		for _, s := range steps {
			text := truncateRunes(oneLineText(s.Instruction), truncate)
			if text == "" {
				text = "(no history)"
			}
			if s.Layer < 0 {
				marker := "(empty)"
				if !s.EmptyLayer {
					marker = "(no layer)"
				}
				t.row(view.cells(-1, "-", marker, "", text)...)
				continue
			}
			t.row(view.cells(s.Layer, strconv.Itoa(s.Layer), format.Size(s.Size), share(s.Size, res.TotalSize), text)...)
		}
		if err := t.writeTo(a.stdout); err != nil {
			return err
		}
		if top > 0 {
			_, err = fmt.Fprintf(a.stdout, "the %d largest of %d layers hold %s of %s (%s)\n", min(top, int(res.LayerCount)), res.LayerCount,
				format.Size(shown), format.Size(res.TotalSize), share(shown, res.TotalSize))
		} else {
			_, err = fmt.Fprintf(a.stdout, "%d layers, %s\n", res.LayerCount, format.Size(res.TotalSize))
		}
		if res.LayerHistoryNote != "" {
			fmt.Fprintf(a.stdout, "note: %s\n", res.LayerHistoryNote)
		}
		return err
	})
	addOutputFlag(cmd, &output)
	cmd.Flags().StringVar(&sortBy, "sort", "", "order of the rows: empty for build order, or size (largest first)")
	cmd.Flags().IntVar(&top, "top", 0, "keep the N largest layers and say how much of the total they hold")
	cmd.Flags().IntVar(&truncate, "truncate", 0, "cut the created-by text to N characters (default: full text)")
	cmd.Flags().BoolVar(&withFile, "files", false, "index the layers' files (see the files command) and add the added, modified, deleted and wasted columns")
	idx.add(cmd.Flags())
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		if sortBy != "" && sortBy != "size" {
			return &usageError{fmt.Sprintf("--sort %q: want size", sortBy)}
		}
		if top < 0 || truncate < 0 {
			return &usageError{"--top and --truncate take a positive number"}
		}
		if err := idx.check(); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return cmd
}

// largest keeps the n largest layer steps, in the order of steps; empty-layer steps go.
func largest(steps []manifests.Step, n int) []manifests.Step {
	var sizes []int64
	for _, s := range steps {
		if s.Layer >= 0 {
			sizes = append(sizes, s.Size)
		}
	}
	if n >= len(sizes) {
		return slices.DeleteFunc(steps, func(s manifests.Step) bool { return s.Layer < 0 })
	}
	slices.Sort(sizes)
	slices.Reverse(sizes)
	threshold := sizes[n-1]
	above := 0 // layers strictly larger than the threshold, which are all kept
	for _, s := range sizes {
		if s > threshold {
			above++
		}
	}
	ties := n - above
	var out []manifests.Step
	for _, s := range steps {
		switch {
		case s.Layer < 0:
		case s.Size > threshold:
			out = append(out, s)
		case s.Size == threshold && ties > 0:
			out = append(out, s)
			ties--
		}
	}
	return out
}

// share renders part/total as a percentage with one decimal.
func share(part, total int64) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(part)*100/float64(total))
}
