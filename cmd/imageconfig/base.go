package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
)

func init() { addCommand(newBaseCommand) }

func newBaseCommand(a *app) *cobra.Command {
	var output, base string
	cmd := a.refCommand(&cobra.Command{
		Use:   "base REF",
		Short: "Tell whether the image's base image is still current",
		Long: `Resolve REF, read the base image it declares (the annotations
org.opencontainers.image.base.name and .base.digest), or the one --base names,
and resolve the base's tag for the image's platform.

With a recorded base digest, the image is outdated when the tag points
elsewhere now (BaseMoved); the recorded digest may be the base's index or its
platform manifest. With --base, or a base name without a digest, the image's
layer diff_ids must start with the current base's: otherwise it was rebuilt on
an older base (RebuiltOnOlderBase) or the base is not in its layers
(BaseNotInLayers). The registry flags apply to the base's registry too.`,
		Example: `  imageconfig base localhost:5001/demo/app:1 --insecure
  imageconfig base ghcr.io/org/app:v1 --base docker.io/library/debian:bookworm-slim -o json`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, err := manifests.Resolve(cmd.Context(), opts)
		if err != nil {
			return err
		}
		name := base
		if name == "" && res.BaseImage != nil {
			name = res.BaseImage.Name
		}
		if name == "" {
			return fmt.Errorf("%s declares no base image (no %s annotation or label): name one with --base", res.ImageRef, manifests.BaseNameAnnotation)
		}
		// The base's registry gets the same flags, with its own credentials.
		template, err := a.options(name, a.platform)
		if err != nil {
			template = opts
		}
		check, err := supplychain.CheckBase(cmd.Context(), res, supplychain.BaseOptions{Ref: base, Registry: template})
		if err != nil {
			return err
		}
		if output != outputTable {
			return writeStructured(a.stdout, output, check)
		}
		return baseTable(check).writeTo(a.stdout)
	})
	cmd.Flags().StringVar(&base, "base", "", "the base image to check against (a tag), instead of the one REF declares; compared by layer diff_ids")
	addOutputFlag(cmd, &output)
	withOutputCheck(cmd, &output)
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if base != "" {
			if _, err := manifests.ParseReference(base, a.registry); err != nil {
				return &usageError{"--base: " + errorLine(err)}
			}
		}
		return run(cmd, args)
	}
	return cmd
}

// baseTable renders a base check as two columns.
func baseTable(c *supplychain.BaseCheck) *table {
	t := newTable()
	row := func(k, v string) {
		if v != "" {
			t.row(k, oneLineText(v))
		}
	}
	row("BASE", c.Name)
	row("RECORDED", c.Digest)
	row("CURRENT", c.CurrentDigest)
	row("OUTDATED", strconv.FormatBool(c.Outdated))
	row("REASON", c.Reason)
	row("MESSAGE", c.Message)
	return t
}
