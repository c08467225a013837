// Package deploy groups `tarsctl deploy`: the ways to deploy T.A.R.S.
// beyond this machine. Each target is a subpackage (k8s, ...).
package deploy

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cli/deploy/k8s"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdDeploy returns the `tarsctl deploy` command group.
func NewCmdDeploy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy <command>",
		Short: "Deploy T.A.R.S. beyond this machine",
		Long: heredoc.Doc(`
			Deploy T.A.R.S. the ways the runbook describes beyond tarsctl start:
			Kubernetes with the embedded Helm chart (deploy k8s).
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(k8s.NewCmdK8s(f))
	return cmd
}
