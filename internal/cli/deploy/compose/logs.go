package compose

import (
	"context"
	"strconv"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
)

// NewCmdLogs returns `tarsctl deploy compose logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams}
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...] [-f] [--tail N]",
		Short: "Show the logs of the Compose stack's containers",
		Long: heredoc.Docf(`
			Run "docker compose -f FILE logs": the containers' output (the daemons
			log to stderr in the profile's log_format), all of them or the SERVICEs
			named, by their Compose names:
			  %s
			-f follows until Ctrl-C.

			Note -f here is --follow, as in docker compose logs -f; the file is
			--file.

			EXIT STATUS
			  0    done
			  2    bad usage, or FILE does not exist
			  3    docker, a Docker engine or the Compose plugin is missing
			  N    docker compose failed with status N
		`, strings.Join(compose.StackServices(), ", ")),
		Example: heredoc.Doc(`
			$ tarsctl deploy compose logs dashboard-api -f
			$ tarsctl deploy compose logs --tail 100 multi-agent hypersync
		`),
		ValidArgs: compose.StackServices(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tail < -1 {
				return cmdutil.FlagErrorf("--tail %d: give a number of lines, or -1 for all", tail)
			}
			opts.Args = []string{"logs"}
			if follow {
				opts.Args = append(opts.Args, "--follow")
			}
			if tail >= 0 {
				opts.Args = append(opts.Args, "--tail", strconv.Itoa(tail))
			}
			opts.Args = append(opts.Args, args...)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return composeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", DefaultFile, "Compose file (written by tarsctl deploy compose render)")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	cmd.Flags().IntVar(&tail, "tail", -1, "print only the last N lines of each container (-1: all)")
	return cmd
}
