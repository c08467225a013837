package k8s

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

// NewCmdStatus returns `tarsctl deploy k8s status`.
func NewCmdStatus(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the T.A.R.S. Helm release's current revision and state",
		Long: heredoc.Doc(`
			Show the release's current revision: its state (deployed, failed,
			pending-upgrade...), chart, app version, when it was deployed and the
			chart's notes. For the pods and their readiness use tarsctl status
			--target k8s.

			EXIT STATUS
			  0  the release exists and is deployed
			  1  it is in another state, or does not exist
			  3  the Kubernetes API could not be reached
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s status -n tars-prod
			$ tarsctl deploy k8s status -n tars-prod -o json | jq -r .status
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func statusRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		rel, err := r.Status(ctx, opts.Request)
		if err != nil {
			return err
		}
		if err := printRelease(opts, rel); err != nil {
			return err
		}
		if rel.Status != "deployed" {
			return cmdutil.ErrSilent
		}
		return nil
	})
}
