// Package release implements `tarsctl release`: prepare a release directory
// with SBOMs, provenance, signatures and checksums, verified before it is
// reported ready.
package release

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdRelease returns the `tarsctl release` command group.
func NewCmdRelease(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release <command>",
		Short: "Prepare verified release artifacts",
		Long: heredoc.Doc(`
			Prepare a release directory: the artifacts, their SBOMs, SLSA provenance,
			detached signatures and a SHA256SUMS file, all verified before the
			command reports success. docs/release.md describes the layout.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdPrepare(f, nil))
	return cmd
}
