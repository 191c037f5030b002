package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

func init() { addCommand(newDiffCommand) }

// diffOutput is the JSON and YAML shape of diff: the field names of status.lastChange
// (from, to, summary, change), with the two references.
type diffOutput struct {
	FromImageRef string         `json:"fromImageRef"`
	FromPlatform string         `json:"fromPlatform,omitempty"`
	ToImageRef   string         `json:"toImageRef"`
	ToPlatform   string         `json:"toPlatform,omitempty"`
	From         string         `json:"from"`
	To           string         `json:"to"`
	Summary      string         `json:"summary"`
	Change       compare.Change `json:"change"`
}

func newDiffCommand(a *app) *cobra.Command {
	var output, platform2 string
	cmd := &cobra.Command{
		Use:   "diff REF1 [REF2]",
		Short: "Compare two images: digests, config fields, layers and base image",
		Long: `Compare two images, or two platforms of one image: the digests, the config
fields that changed (env and labels by name), the layers by diffID (the common
prefix kept, the layers removed and added) and the declared base image.
--platform applies to both; --platform2 to the second, which may then be omitted.`,
		Example: `  imageconfig diff nginx:1.27.2 nginx:1.27.3
  imageconfig diff nginx@sha256:ab12… nginx@sha256:cd34…
  imageconfig diff nginx:1.27 --platform linux/amd64 --platform2 linux/arm64`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && !cmd.Flags().Changed("platform2"):
				return &usageError{"want two REFs, or one REF with --platform2"}
			case len(args) == 0 || len(args) > 2:
				return exactRefs(2)(cmd, args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := a.checkFlags(); err != nil {
				return err
			}
			ref2 := args[len(args)-1]
			p2 := a.platform
			if cmd.Flags().Changed("platform2") {
				p2 = platform2
			}
			opts1, err := a.options(args[0], a.platform)
			if err != nil {
				return optionsError(err)
			}
			opts2, err := a.options(ref2, p2)
			if err != nil {
				return &usageError{strings.Replace(err.Error(), "--platform:", "--platform2:", 1)}
			}
			before, err := manifests.Resolve(cmd.Context(), opts1)
			if err != nil {
				return &registryError{err}
			}
			after, err := manifests.Resolve(cmd.Context(), opts2)
			if err != nil {
				return &registryError{err}
			}
			c := compare.Compare(before, after)
			out := diffOutput{
				FromImageRef: before.ImageRef, FromPlatform: before.Platform,
				ToImageRef: after.ImageRef, ToPlatform: after.Platform,
				From: before.Digest, To: after.Digest,
				Summary: c.Summary(), Change: c,
			}
			if output != outputTable {
				return writeStructured(a.stdout, output, out)
			}
			return writeDiff(a.stdout, out)
		},
	}
	a.addRegistryFlags(cmd.Flags())
	cmd.Flags().StringVar(&platform2, "platform2", "", "platform of the second image, as os/arch[/variant] (default: --platform)")
	addOutputFlag(cmd, &output)
	return cmd
}

// writeDiff renders a comparison for a terminal: who is compared, the summary,
// then one block per part that changed, "-" for before and "+" for after.
func writeDiff(w io.Writer, d diffOutput) error {
	ref := func(imageRef, platform, digest string) string {
		return fmt.Sprintf("%s (%s, %s)", imageRef, platform, format.ShortDigest(digest))
	}
	fmt.Fprintf(w, "--- %s\n+++ %s\n", ref(d.FromImageRef, d.FromPlatform, d.From), ref(d.ToImageRef, d.ToPlatform, d.To))
	fmt.Fprintf(w, "%s\n", d.Summary)
	c := d.Change
	if c.Empty() {
		return nil
	}
	t := newTable()
	str := func(name string, s *compare.StringChange) {
		if s != nil {
			t.row(name, "-", orDash(s.Before))
			t.row("", "+", orDash(s.After))
		}
	}
	list := func(name string, l *compare.ListChange) {
		if l != nil {
			t.row(name, "-", orDash(jsonList(l.Before)))
			t.row("", "+", orDash(jsonList(l.After)))
		}
	}
	set := func(name string, s *compare.SetChange) {
		if s == nil {
			return
		}
		for _, v := range s.Removed {
			t.row(name, "-", v)
			name = ""
		}
		for _, v := range s.Added {
			t.row(name, "+", v)
			name = ""
		}
	}
	kv := func(name string, m *compare.MapChange) {
		if m == nil {
			return
		}
		for _, e := range m.Changed {
			t.row(name, "-", oneLineText(e.Key+"="+e.Before))
			t.row("", "+", oneLineText(e.Key+"="+e.After))
			name = ""
		}
		for _, e := range m.Removed {
			t.row(name, "-", oneLineText(e.Key+"="+e.Value))
			name = ""
		}
		for _, e := range m.Added {
			t.row(name, "+", oneLineText(e.Key+"="+e.Value))
			name = ""
		}
	}
	str("digest", c.Digest)
	str("manifest", c.ManifestDigest)
	str("config", c.ConfigDigest)
	if b := c.BaseImage; b != nil {
		base := func(b *manifests.BaseImage) string {
			if b == nil {
				return "-"
			}
			return strings.TrimSuffix(b.Name+"@"+b.Digest, "@")
		}
		t.row("base image", "-", base(b.Before))
		t.row("", "+", base(b.After))
	}
	str("os", c.OS)
	str("architecture", c.Architecture)
	str("variant", c.Variant)
	str("user", c.User)
	str("workdir", c.WorkingDir)
	list("entrypoint", c.Entrypoint)
	list("cmd", c.Cmd)
	kv("env", c.Env)
	kv("labels", c.Labels)
	set("ports", c.ExposedPorts)
	set("volumes", c.Volumes)
	str("stop signal", c.StopSignal)
	if err := t.writeTo(w); err != nil {
		return err
	}
	if l := c.Layers; l != nil {
		fmt.Fprintf(w, "\nlayers: %s; %d kept (%s), %d removed, %d added, net %s\n", l.Kind, l.KeptCount, format.Size(l.KeptSize),
			len(l.Removed), len(l.Added), signed(l.SizeChange))
		lt := newTable()
		layer := func(sign string, r compare.LayerRef) {
			id := r.DiffID
			if id == "" {
				id = r.Digest
			}
			lt.row(sign, format.ShortDigest(id), format.Size(r.Size), oneLineText(manifests.DockerfileLine(r.CreatedBy, "")))
		}
		for _, r := range l.Removed {
			layer("-", r)
		}
		for _, r := range l.Added {
			layer("+", r)
		}
		return lt.writeTo(w)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func signed(n int64) string {
	if n >= 0 {
		return "+" + format.Size(n)
	}
	return format.Size(n)
}
