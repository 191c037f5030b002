package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

func init() {
	addCommand(newConfigCommand)
	addCommand(newSummaryCommand)
	addCommand(newPlatformsCommand)
	addCommand(newDigestCommand)
}

// refCommand builds a command on one REF: it checks the flags, turns REF into
// the finders' options (a bad REF is a usage error) and runs do, whose errors
// are registry errors.
func (a *app) refCommand(cmd *cobra.Command, do func(cmd *cobra.Command, opts manifests.Options) error) *cobra.Command {
	cmd.Args = exactRefs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := a.checkFlags(); err != nil {
			return err
		}
		opts, err := a.options(args[0], a.platform)
		if err != nil {
			return optionsError(err)
		}
		if err := do(cmd, opts); err != nil {
			return &registryError{err}
		}
		return nil
	}
	a.addRegistryFlags(cmd.Flags())
	return cmd
}

func newConfigCommand(a *app) *cobra.Command {
	return a.refCommand(&cobra.Command{
		Use:   "config REF",
		Short: "Print the config blob's JSON for the platform, indented by 2 spaces",
		Example: `  imageconfig config nginx:1.27
  imageconfig config ghcr.io/org/app:v1 --platform linux/arm64`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, err := manifests.Resolve(cmd.Context(), opts)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, res.RawConfig, "", "  "); err != nil {
			return fmt.Errorf("config blob is not valid JSON: %w", err)
		}
		b.WriteByte('\n')
		_, err = a.stdout.Write(b.Bytes())
		return err
	})
}

func newSummaryCommand(a *app) *cobra.Command {
	var output string
	cmd := a.refCommand(&cobra.Command{
		Use:   "summary REF",
		Short: "Print what was resolved: digests, build config, base image and layers",
		Long: `Print what was resolved: the digests, the build config, the declared base image
and the layers. -o json and -o yaml print it with the field names of ImageConfig.status.`,
		Example: `  imageconfig summary nginx:1.27
  imageconfig summary localhost:5001/demo/hello:1.0 --insecure -o json`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, err := manifests.Resolve(cmd.Context(), opts)
		if err != nil {
			return err
		}
		if output != outputTable {
			return writeStructured(a.stdout, output, res.Summary)
		}
		return summaryTable(res.Summary).writeTo(a.stdout)
	})
	addOutputFlag(cmd, &output)
	withOutputCheck(cmd, &output)
	return cmd
}

// withOutputCheck checks -o before cmd runs, so a bad -o makes no request.
func withOutputCheck(cmd *cobra.Command, output *string) {
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		return run(cmd, args)
	}
}

// summaryTable renders a summary as two columns: the field, and its value.
func summaryTable(s manifests.Summary) *table {
	t := newTable()
	row := func(k, v string) {
		if v != "" {
			t.row(k, oneLineText(v))
		}
	}
	row("IMAGE", s.ImageRef)
	row("DIGEST", s.Digest)
	row("MEDIA TYPE", s.MediaType)
	row("PLATFORM", s.Platform)
	row("MANIFEST", s.ManifestDigest)
	row("CONFIG", s.ConfigDigest)
	if b := s.BaseImage; b != nil {
		row("BASE IMAGE", strings.TrimSuffix(b.Name+"@"+b.Digest, "@"))
	}
	if c := s.Config; c != nil {
		if c.Created != nil {
			row("CREATED", c.Created.Format(time.RFC3339))
		}
		row("AUTHOR", c.Author)
		row("USER", c.User)
		row("WORKDIR", c.WorkingDir)
		row("ENTRYPOINT", jsonList(c.Entrypoint))
		row("CMD", jsonList(c.Cmd))
		for i, e := range c.Env {
			row(map[bool]string{true: "ENV"}[i == 0], e)
		}
		row("PORTS", strings.Join(c.ExposedPorts, " "))
		row("VOLUMES", strings.Join(c.Volumes, " "))
		for i, k := range slices.Sorted(maps.Keys(c.Labels)) {
			row(map[bool]string{true: "LABELS"}[i == 0], k+"="+c.Labels[k])
		}
		row("STOP SIGNAL", c.StopSignal)
	}
	row("LAYERS", fmt.Sprintf("%d, %s (imageconfig layers REF for each)", s.LayerCount, format.Size(s.TotalSize)))
	if len(s.Platforms) > 0 {
		row("PLATFORMS", fmt.Sprintf("%d index entries (imageconfig platforms REF)", len(s.Platforms)))
	}
	row("AUTH", s.AuthSource)
	return t
}

func jsonList(l []string) string {
	if l == nil {
		return ""
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func newPlatformsCommand(a *app) *cobra.Command {
	var output string
	cmd := a.refCommand(&cobra.Command{
		Use:     "platforms REF",
		Short:   "Print one line per index entry: os/arch[/variant] digest size",
		Example: "  imageconfig platforms nginx:1.27\n  imageconfig platforms nginx:1.27 -o json",
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		entries, err := manifests.Platforms(cmd.Context(), opts)
		if err != nil {
			return err
		}
		if output != outputTable {
			if entries == nil {
				entries = []manifests.IndexEntry{}
			}
			return writeStructured(a.stdout, output, entries)
		}
		var b bytes.Buffer
		for _, e := range entries {
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		_, err = a.stdout.Write(b.Bytes())
		return err
	})
	addOutputFlag(cmd, &output)
	withOutputCheck(cmd, &output)
	return cmd
}

func newDigestCommand(a *app) *cobra.Command {
	return a.refCommand(&cobra.Command{
		Use:   "digest REF",
		Short: "Print the digest the tag points to; with --platform, the platform manifest's",
		Example: `  imageconfig digest nginx:1.27
  imageconfig digest nginx:1.27 --platform linux/arm64`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		var d string
		var err error
		if cmd.Flags().Changed("platform") {
			d, err = manifests.PlatformDigest(cmd.Context(), opts)
		} else {
			d, _, err = manifests.Digest(cmd.Context(), opts)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(a.stdout, d)
		return err
	})
}
