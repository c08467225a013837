package k8s

import (
	"context"
	"fmt"
	"strconv"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

// NewCmdRollback returns `tarsctl deploy k8s rollback`.
func NewCmdRollback(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Roll the T.A.R.S. Helm release back to an earlier revision",
		Long: heredoc.Doc(`
			Roll the release back to REVISION (a number from tarsctl deploy k8s
			history), or to the previous revision when none is given. The rollback
			is itself a new revision. Destructive: asks on a terminal, needs --yes
			otherwise.

			EXIT STATUS
			  0  rolled back (and, with --wait, ready)
			  1  the rollback failed, or there is no such release or revision
			  2  a bad REVISION or flag
			  3  the Kubernetes API could not be reached
			  6  --wait gave up after --timeout
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s rollback -n tars-prod --yes
			$ tarsctl deploy k8s rollback 3 -n tars-prod --wait --yes
		`),
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 1 {
					return cmdutil.FlagErrorf("REVISION must be a revision number from tarsctl deploy k8s history, not %q", args[0])
				}
				opts.Request.Revision = n
			}
			if !opts.Request.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, rollbackAction(opts)); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rollbackRun(cmd.Context(), opts)
		},
	}
	addWaitFlags(cmd, &opts.Request, "the rolled-back release is ready")
	cmd.Flags().BoolVar(&opts.Request.DryRun, "dry-run", false, "check the release and revision exist; change nothing")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func rollbackRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		target := "the previous revision"
		if opts.Request.Revision > 0 {
			target = fmt.Sprintf("revision %d", opts.Request.Revision)
		}
		if !opts.Request.DryRun {
			if err := cmdutil.Confirm(opts.IO, opts.Yes, rollbackAction(opts), fmt.Sprintf("Roll release %s back to %s?", opts.Request.Release, target)); err != nil {
				return err
			}
		}
		rel, err := r.Rollback(ctx, opts.Request)
		if err != nil {
			return err
		}
		st := opts.status()
		if opts.Request.DryRun {
			st.Info("would roll release %s back to %s", rel.Name, target)
			return nil
		}
		st.Success("Rolled release %s back to %s: now revision %d", rel.Name, target, rel.Revision)
		if opts.Output == cmdutil.OutputJSON {
			return printRelease(opts, rel)
		}
		return nil
	})
}

// rollbackAction names the rollback in confirmation errors.
func rollbackAction(opts *ReleaseOptions) string {
	return fmt.Sprintf("rolling release %s back (it changes the running release)", opts.Request.Release)
}
