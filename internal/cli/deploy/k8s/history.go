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

// NewCmdHistory returns `tarsctl deploy k8s history`.
func NewCmdHistory(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the T.A.R.S. Helm release's revisions",
		Long: heredoc.Doc(`
			List the release's revisions, oldest first: revision, when, state,
			chart, app version and description. tarsctl deploy k8s rollback
			REVISION goes back to one.

			EXIT STATUS
			  0  listed
			  1  there is no such release
			  3  the Kubernetes API could not be reached
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s history -n tars-prod
			$ tarsctl deploy k8s history -n tars-prod -o json | jq '.[-1].revision'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if opts.Request.Max < 0 {
				return cmdutil.FlagErrorf("--max must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return historyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Request.Max, "max", 0, "show at most this many of the latest revisions (0: all)")
	return cmd
}

func historyRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		revs, err := r.History(ctx, opts.Request)
		if err != nil {
			return err
		}
		if opts.Output == cmdutil.OutputJSON {
			return ui.WriteJSON(opts.IO.Out, revs)
		}
		t := ui.NewTable(opts.IO, "revision", "updated", "status", "chart", "app version", "description")
		t.SetNow(opts.Now)
		for _, rel := range revs {
			t.AddRow(fmt.Sprint(rel.Revision), t.Time(rel.Updated), rel.Status, rel.Chart, rel.AppVersion, rel.Description)
		}
		return t.Render()
	})
}
