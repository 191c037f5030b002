package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
)

func init() { addCommand(newReferrersCommand) }

func newReferrersCommand(a *app) *cobra.Command {
	var output string
	cmd := a.refCommand(&cobra.Command{
		Use:   "referrers REF",
		Short: "List what is attached to the image: signatures, SBOMs, provenance, attestations",
		Long: `Resolve REF for the platform and list what refers to its platform manifest and,
for a multi-platform image, to its index: the OCI 1.1 referrers API (or the
sha256-<hex> tag-schema fallback when the registry answers it with 404),
cosign's tags sha256-<hex>.sig, .att and .sbom, and BuildKit attestation
manifests in the index. Each entry has a kind (signature, sbom, provenance,
attestation, other), a format and the source it was found in. At most 20 are
listed. Nothing is verified.`,
		Example: `  imageconfig referrers localhost:5001/demo/signed:1 --insecure
  imageconfig referrers ghcr.io/org/app:v1 --platform linux/arm64 -o json`,
	}, func(cmd *cobra.Command, opts manifests.Options) error {
		res, err := manifests.Resolve(cmd.Context(), opts)
		if err != nil {
			return err
		}
		list, err := supplychain.ListReferrers(cmd.Context(), supplychain.ReferrersOptions{
			Registry: opts, Subjects: supplychain.Subjects(res), Index: res.RawIndex,
		})
		if err != nil {
			return err
		}
		if output != outputTable {
			return writeStructured(a.stdout, output, list)
		}
		return referrersTable(list).writeTo(a.stdout)
	})
	addOutputFlag(cmd, &output)
	withOutputCheck(cmd, &output)
	return cmd
}

// referrersTable renders one row per entry, then what was left out.
func referrersTable(l *supplychain.Referrers) *table {
	t := newTable()
	t.row("KIND", "FORMAT", "SOURCE", "DIGEST", "SUBJECT")
	for _, e := range l.Entries {
		t.row(e.Kind, orDash(e.Format), e.Source, e.Digest, e.Subject)
	}
	if l.Truncated {
		t.row(fmt.Sprintf("(more than %d: truncated)", len(l.Entries)))
	}
	if l.IgnoredSubjects > 0 {
		t.row(fmt.Sprintf("(%d listed with another subject: ignored)", l.IgnoredSubjects))
	}
	for _, n := range l.Notes {
		t.row("(" + oneLineText(n) + ")")
	}
	return t
}
