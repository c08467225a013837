package k8s

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

// NewCmdUpgrade returns `tarsctl deploy k8s upgrade`.
func NewCmdUpgrade(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Upgrade the T.A.R.S. Helm release to this tarsctl's chart and values",
		Long: heredoc.Doc(`
			Upgrade the release to the embedded chart with the values given now
			(the chart's defaults, --profile, --values, --set-value — values of the
			previous revision are not reused, so the command line says everything).
			Each upgrade is a new revision: tarsctl deploy k8s history lists them
			and rollback goes back to one.

			EXIT STATUS
			  0  upgraded (and, with --wait, ready)
			  1  the upgrade failed, or there is no such release (use install)
			  2  a bad flag, values file or --set-value
			  3  the Kubernetes API could not be reached
			  6  --wait gave up after --timeout
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s upgrade --profile production -n tars-prod --wait
			$ tarsctl deploy k8s upgrade --set-value dashboardApi.replicas=4 --dry-run
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return upgradeRun(cmd.Context(), opts)
		},
	}
	addValueFlags(cmd, &opts.Request)
	addWaitFlags(cmd, &opts.Request, "the new revision is ready")
	cmd.Flags().BoolVar(&opts.Request.DryRun, "dry-run", false, "render against the cluster and print the manifests; change nothing")
	return cmd
}

func upgradeRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		st := opts.status()
		rel, err := r.Upgrade(ctx, opts.Request)
		if err != nil {
			return err
		}
		if opts.Request.DryRun && opts.Output != cmdutil.OutputJSON {
			return printManifest(opts.IO.Out, rel)
		}
		st.Success("Upgraded release %s to revision %d in namespace %s", rel.Name, rel.Revision, rel.Namespace)
		if opts.Output == cmdutil.OutputJSON {
			return printRelease(opts, rel)
		}
		return nil
	})
}
