// Package deploy implements `tarsctl deploy`: the ways T.A.R.S. is deployed
// beyond one machine. Each way is a subcommand group in a package of its
// own (k8s, compose, airgap, ...); this package only groups them.
package deploy

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cli/deploy/airgap"
	"github.com/tars-ops/tarsctl/internal/cli/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/cli/deploy/k8s"
	"github.com/tars-ops/tarsctl/internal/cli/deploy/vault"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdDeploy returns the `tarsctl deploy` command group.
func NewCmdDeploy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy <command>",
		Short: "Deploy T.A.R.S. to Kubernetes, Docker Compose or an air-gapped site",
		Long: heredoc.Doc(`
			Deploy T.A.R.S. beyond one machine (tarsctl start runs it on this one):

			  k8s       install, upgrade, roll back and inspect the embedded Helm chart
			            (runs the tarsctl-k8s companion binary shipped beside tarsctl)
			  compose   render a Docker Compose stack and run docker compose on it
			  airgap    build, verify and load an offline bundle: images, chart,
			            binaries, SBOMs, provenance, signed checksums
			  vault     render the Vault policy, Kubernetes auth role and pod
			            annotations for an Enterprise deployment with Vault

			Every container runs the tarsctl image with "serve SERVICE".
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s install --profile production -n tars-prod --wait
			$ tarsctl deploy compose render && tarsctl deploy compose up
			$ tarsctl deploy airgap bundle v1.0.2 --output tars-v1.0.2-airgap.tar.gz
			$ tarsctl deploy vault render --output vault/
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(
		k8s.NewCmdK8s(f),
		compose.NewCmdCompose(f),
		airgap.NewCmdAirgap(f),
		vault.NewCmdVault(f),
	)
	return cmd
}
