// Package vault implements `tarsctl deploy vault`: what Vault and the pods
// need for the runbook's Enterprise-with-Vault deployment.
package vault

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdVault returns the `tarsctl deploy vault` command group.
func NewCmdVault(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault <command>",
		Short: "Vault policy, Kubernetes auth role and pod annotations",
		Long: heredoc.Doc(`
			Enterprise with Vault (runbook, Model 5): the secrets live in a Vault KV
			v2 engine (tarsctl secrets generate --sink vault puts them there), the
			pods log in with Vault's Kubernetes auth method, and the Vault Agent
			Injector writes the secrets as files into each pod. deploy vault render
			writes the policy, the role and the pod annotations for that.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdRender(f, nil))
	return cmd
}
