// Package deploy implements `tarsctl deploy`: deploying T.A.R.S. beyond one
// machine. Each target is a subcommand in a package of its own.
package deploy

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	vaultcmd "github.com/tars-ops/tarsctl/internal/cli/deploy/vault"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdDeploy returns the `tarsctl deploy` command group.
func NewCmdDeploy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy <command>",
		Short: "Deploy T.A.R.S. beyond one machine",
		Long: heredoc.Doc(`
			Deploy T.A.R.S. the ways the runbook describes beyond the local stack
			that tarsctl start runs: Enterprise with Vault (deploy vault).
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(vaultcmd.NewCmdVault(f))
	return cmd
}
