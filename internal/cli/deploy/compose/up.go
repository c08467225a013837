package compose

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdUp returns `tarsctl deploy compose up`.
func NewCmdUp(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams}
	var noWait, attach bool
	cmd := &cobra.Command{
		Use:   "up [SERVICE...] [--file FILE]",
		Short: "Start the Compose stack and wait until it is healthy",
		Long: heredoc.Doc(`
			Run "docker compose -f FILE up --detach --wait": create and start the
			containers in the background, and return once every one is healthy.
			--no-wait returns as soon as they are started; --attach stays in the
			foreground with their logs, as "docker compose up" does (Ctrl-C stops
			them).

			EXIT STATUS
			  0    the stack is up (and healthy, unless --no-wait)
			  2    bad usage, or FILE does not exist
			  3    docker, a Docker engine or the Compose plugin is missing
			  N    docker compose failed with status N
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy compose up
			$ tarsctl deploy compose up dashboard-api --file docker-compose.airgap.yaml
		`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach && noWait {
				return cmdutil.FlagErrorf("--attach and --no-wait cannot be used together: --attach does not wait")
			}
			opts.Args = []string{"up"}
			switch {
			case attach:
			case noWait:
				opts.Args = append(opts.Args, "--detach")
			default:
				opts.Args = append(opts.Args, "--detach", "--wait")
			}
			opts.Args = append(opts.Args, args...)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return composeRun(cmd.Context(), opts)
		},
	}
	addFileFlag(cmd, &opts.File)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the containers are started, without waiting for health")
	cmd.Flags().BoolVar(&attach, "attach", false, "stay in the foreground with the containers' logs")
	return cmd
}
