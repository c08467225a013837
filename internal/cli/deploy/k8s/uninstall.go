package k8s

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// NewCmdUninstall returns `tarsctl deploy k8s uninstall`.
func NewCmdUninstall(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the T.A.R.S. Helm release and its objects",
		Long: heredoc.Doc(`
			Delete every object of the release and its history (keep the history
			with --keep-history). Secrets the chart only references by name
			(tars-jwt-secret, tars-aes-key, tars-rsa-keys, tars-redis) are not
			part of the release and stay. Destructive: asks on a terminal, needs
			--yes otherwise.

			EXIT STATUS
			  0  uninstalled
			  1  the uninstall failed, or there is no such release
			  3  the Kubernetes API could not be reached
			  6  --wait gave up after --timeout
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s uninstall -n tars-staging --yes
			$ tarsctl deploy k8s uninstall --dry-run
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if !opts.Request.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, uninstallAction(opts)); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return uninstallRun(cmd.Context(), opts)
		},
	}
	addWaitFlags(cmd, &opts.Request, "the objects are gone")
	cmd.Flags().BoolVar(&opts.Request.DryRun, "dry-run", false, "say what would be removed; change nothing")
	cmd.Flags().BoolVar(&opts.Request.KeepHistory, "keep-history", false, "keep the release history (tarsctl deploy k8s history still lists it)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func uninstallRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		if !opts.Request.DryRun {
			if err := cmdutil.Confirm(opts.IO, opts.Yes, uninstallAction(opts), fmt.Sprintf("Uninstall release %s from namespace %s?", opts.Request.Release, nsOrDefault(opts.Request.Namespace))); err != nil {
				return err
			}
		}
		res, err := r.Uninstall(ctx, opts.Request)
		if err != nil {
			return err
		}
		st := opts.status()
		if opts.Request.DryRun {
			st.Info("would uninstall release %s (revision %d) from namespace %s", res.Release.Name, res.Release.Revision, res.Release.Namespace)
			return nil
		}
		st.Success("Uninstalled release %s from namespace %s", res.Release.Name, res.Release.Namespace)
		if opts.Output == cmdutil.OutputJSON {
			return ui.WriteJSON(opts.IO.Out, res)
		}
		return nil
	})
}

// uninstallAction names the uninstall in confirmation errors.
func uninstallAction(opts *ReleaseOptions) string {
	return fmt.Sprintf("uninstalling release %s (it deletes the release)", opts.Request.Release)
}
