package compose

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdPs returns `tarsctl deploy compose ps`.
func NewCmdPs(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams}
	var all bool
	cmd := &cobra.Command{
		Use:   "ps [SERVICE...] [--file FILE]",
		Short: "List the Compose stack's containers and their health",
		Long: heredoc.Doc(`
			Run "docker compose -f FILE ps": each container's state and health.
			With -o json, docker's JSON (--format json) is passed through.

			EXIT STATUS
			  0    listed
			  2    bad usage, or FILE does not exist
			  3    docker, a Docker engine or the Compose plugin is missing
			  N    docker compose failed with status N
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy compose ps
			$ tarsctl deploy compose ps -o json | jq -r '.Service + " " + .Health'
		`),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = []string{"ps"}
			if all {
				opts.Args = append(opts.Args, "--all")
			}
			if f.Globals.Output == cmdutil.OutputJSON {
				opts.Args = append(opts.Args, "--format", "json")
			}
			opts.Args = append(opts.Args, args...)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return composeRun(cmd.Context(), opts)
		},
	}
	addFileFlag(cmd, &opts.File)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include stopped containers")
	return cmd
}
