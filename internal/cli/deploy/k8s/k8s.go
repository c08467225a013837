// Package k8s implements `tarsctl deploy k8s` (the embedded Helm chart
// through the Helm v3 SDK) and `tarsctl scale`.
//
// It imports neither Helm nor client-go. The commands do their work through
// the Runner of internal/deploy/k8srunner: in the tarsctl-k8s companion
// binary an in-process one; in tarsctl none, so the command execs the
// companion with the same command line (git/kubectl-plugin style), keeping
// tarsctl's start-up free of those libraries' ~80 ms of initialisation.
// restart, status and secrets rotate reach the same runner for
// --target k8s through internal/cmdutil.
package k8s

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// NewCmdK8s returns the `tarsctl deploy k8s` command group.
func NewCmdK8s(f *cmdutil.Factory) *cobra.Command {
	conn := &connFlags{}
	cmd := &cobra.Command{
		Use:   "k8s <command>",
		Short: "Install and manage T.A.R.S. on Kubernetes with the embedded Helm chart",
		Long: heredoc.Doc(`
			Install, upgrade, roll back and remove the T.A.R.S. Helm release, with
			the chart built into tarsctl and the Helm v3 SDK: no helm or kubectl
			binary is needed. The cluster comes from --kubeconfig (default
			$KUBECONFIG, then ~/.kube/config) and --kube-context.

			Values, lowest precedence first: the chart's defaults, the values for
			--profile (the same profile names as the configuration), each
			--values FILE in order, then each --set-value KEY=VALUE (Helm's --set
			syntax: a.b=c, list[0]=x, comma-separated pairs). --set stays
			tarsctl's own global flag for configuration keys; chart values are
			set with --set-value.

			These commands run in the tarsctl-k8s companion binary, which ships in
			the same archive: tarsctl hands the command line over to it (found
			next to tarsctl, then on $PATH, or at $TARSCTL_K8S).
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s install --profile production -n tars-prod --wait
			$ tarsctl deploy k8s upgrade -n tars-prod --set-value dashboardApi.replicas=3
			$ tarsctl deploy k8s history -n tars-prod -o json
			$ tarsctl deploy k8s rollback 2 -n tars-prod --yes
		`),
	}
	cmdutil.GroupCommand(cmd)
	conn.register(cmd)
	cmd.AddCommand(
		NewCmdInstall(f, conn, nil),
		NewCmdUpgrade(f, conn, nil),
		NewCmdRollback(f, conn, nil),
		NewCmdUninstall(f, conn, nil),
		NewCmdStatus(f, conn, nil),
		NewCmdHistory(f, conn, nil),
		NewCmdTemplate(f, conn, nil),
	)
	return cmd
}

// connFlags are the flags that say which cluster, namespace and release.
type connFlags struct {
	Target  k8sapi.Target
	Release string
}

func (c *connFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	cmdutil.AddKubeFlags(pf, &c.Target)
	pf.StringVar(&c.Release, "release", k8sapi.DefaultRelease, "Helm release name")
}

// profileFor is the profile whose chart values apply: --profile, else
// $TARS_PROFILE, else none (the chart's defaults).
func profileFor(f *cmdutil.Factory) string {
	if f.Globals != nil && f.Globals.Profile != "" {
		return f.Globals.Profile
	}
	if f.Getenv != nil {
		return f.Getenv("TARS_PROFILE")
	}
	return ""
}
