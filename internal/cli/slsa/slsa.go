// Package slsa implements `tarsctl slsa`: generate and verify SLSA
// provenance v1 for release artifacts.
package slsa

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdSLSA returns the `tarsctl slsa` command group.
func NewCmdSLSA(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slsa <command>",
		Short: "Generate and verify SLSA provenance",
		Long: heredoc.Doc(`
			Generate SLSA provenance v1 for release artifacts (an in-toto Statement v1,
			signed into a DSSE envelope with --sign) and verify it offline against a
			public key and a policy: the artifacts or digests, the builder and the
			source. docs/slsa.md describes the format.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdGenerate(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}
