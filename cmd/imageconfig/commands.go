package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
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
			return &usageError{err.Error()}
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
	return a.refCommand(&cobra.Command{
		Use:   "summary REF",
		Short: "Print the summary as JSON, with the field names of ImageConfig.status",
		Example: `  imageconfig summary nginx:1.27
  imageconfig summary localhost:5001/demo/hello:1.0 --insecure`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, err := manifests.Resolve(cmd.Context(), opts)
		if err != nil {
			return err
		}
		return writeJSON(a.stdout, res.Summary)
	})
}

func newPlatformsCommand(a *app) *cobra.Command {
	return a.refCommand(&cobra.Command{
		Use:     "platforms REF",
		Short:   "Print one line per index entry: os/arch[/variant] digest size",
		Example: `  imageconfig platforms nginx:1.27`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		entries, err := manifests.Platforms(cmd.Context(), opts)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		for _, e := range entries {
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		_, err = a.stdout.Write(b.Bytes())
		return err
	})
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

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
