// Package sbom implements `tarsctl sbom`: generate, merge, diff, validate
// and verify software bills of materials.
package sbom

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdSBOM returns the `tarsctl sbom` command group.
func NewCmdSBOM(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sbom <command>",
		Short: "Generate, merge, diff, validate and verify SBOMs",
		Long: heredoc.Doc(`
			Work with software bills of materials in CycloneDX (1.7, or 1.6) and
			SPDX 2.3 JSON: inventory a source tree or a Go binary, merge the SBOMs of
			a release's artifacts, list what changed between two SBOMs, check a
			document against its specification, and verify a detached signature.

			Everything runs offline; docs/sbom.md describes what is recorded.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdGenerate(f, nil))
	cmd.AddCommand(NewCmdMerge(f, nil))
	cmd.AddCommand(NewCmdDiff(f, nil))
	cmd.AddCommand(NewCmdValidate(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}
