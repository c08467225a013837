package compose

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdDown returns `tarsctl deploy compose down`.
func NewCmdDown(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams}
	var volumes, yes bool
	cmd := &cobra.Command{
		Use:   "down [--file FILE] [--volumes --yes]",
		Short: "Stop and remove the Compose stack's containers",
		Long: heredoc.Doc(`
			Run "docker compose -f FILE down": stop the containers and remove them
			and their network. The volumes (Redis, PostgreSQL and the daemons' data)
			are kept unless --volumes, which deletes them for good and so needs
			--yes when not on a terminal.

			EXIT STATUS
			  0    the stack is down
			  2    bad usage, or FILE does not exist
			  3    docker, a Docker engine or the Compose plugin is missing
			  N    docker compose failed with status N
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy compose down
			$ tarsctl deploy compose down --volumes --yes
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = []string{"down"}
			if volumes {
				if err := cmdutil.Confirm(opts.IO, yes, "deleting the stack's volumes (--volumes: all its data)",
					fmt.Sprintf("Delete the volumes of %s (Redis, PostgreSQL and daemon data)?", opts.File)); err != nil {
					return err
				}
				opts.Args = append(opts.Args, "--volumes")
			} else if yes {
				return cmdutil.FlagErrorf("--yes is for --volumes")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return composeRun(cmd.Context(), opts)
		},
	}
	addFileFlag(cmd, &opts.File)
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also delete the volumes: all the stack's data")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask before deleting volumes")
	return cmd
}
