// Package compose implements `tarsctl deploy compose`: render the Docker
// Compose file of a T.A.R.S. stack (internal/deploy/compose builds it) and
// run docker compose up, down, ps and logs on it.
package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// DefaultFile is the Compose file the verbs read and render writes.
const DefaultFile = "docker-compose.yaml"

// NewCmdCompose returns the `tarsctl deploy compose` command group.
func NewCmdCompose(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compose <command>",
		Short: "Run T.A.R.S. with Docker Compose",
		Long: heredoc.Docf(`
			Render the runbook's Docker Compose stack — redis, postgres and one
			container per daemon of the service catalog, each running the tarsctl
			image with "serve SERVICE" — and run docker compose on it. The daemons'
			containers:
			  %s

			up, down, ps and logs run "docker compose -f FILE ..." with this terminal,
			and exit with docker's status. They need a Docker engine and the Compose
			v2 plugin; without them they exit 3 and say what is missing.

			The stack, its secrets and volumes: docs/deploy-compose.md.
		`, strings.Join(compose.DaemonServices(), ", ")),
		Example: heredoc.Doc(`
			$ tarsctl secrets generate --dir secrets
			$ tarsctl deploy compose render --profile docker
			$ tarsctl deploy compose up
			$ tarsctl deploy compose logs dashboard-api -f
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(
		NewCmdRender(f, nil),
		NewCmdUp(f, nil),
		NewCmdDown(f, nil),
		NewCmdPs(f, nil),
		NewCmdLogs(f, nil),
	)
	return cmd
}

// RunOptions are what up, down, ps and logs share.
type RunOptions struct {
	IO *iostreams.IOStreams
	// Env is docker's environment (nil: this process's).
	Env []string
	// Docker is the docker command (default "docker" in PATH).
	Docker string
	File   string
	// Args are docker compose's arguments after -f FILE.
	Args []string
}

func addFileFlag(cmd *cobra.Command, file *string) {
	cmd.Flags().StringVarP(file, "file", "f", DefaultFile, "Compose file (written by tarsctl deploy compose render)")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
}

// composeRun checks the file and the engine, then runs docker compose and
// passes its exit status on.
func composeRun(ctx context.Context, opts *RunOptions) error {
	if _, err := os.Stat(opts.File); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cmdutil.FlagErrorWrap(cmdutil.WithHint(fmt.Errorf("compose file %s does not exist", opts.File),
				"write it with `tarsctl deploy compose render --output "+opts.File+"`, or name another with --file"))
		}
		return cmdutil.FlagErrorWrap(fmt.Errorf("compose file: %w", err))
	}
	r := &compose.Runner{Docker: opts.Docker, File: opts.File, Env: opts.Env, Stdin: opts.IO.In, Stdout: opts.IO.Out, Stderr: opts.IO.ErrOut}
	if err := r.Check(ctx); err != nil {
		return explain(err)
	}
	code, err := r.Run(ctx, opts.Args...)
	if err != nil {
		return cmdutil.Unreachable(err)
	}
	if code != 0 {
		// docker compose has said what went wrong.
		return cmdutil.WithExitCode(code, cmdutil.ErrSilent)
	}
	return nil
}

// explain gives a Check error its exit code (3: a dependency is missing)
// and a hint.
func explain(err error) error {
	switch {
	case errors.Is(err, compose.ErrNoDocker):
		return cmdutil.Unreachable(cmdutil.WithHint(err, "install Docker Engine 24 or newer with the Compose plugin (Debian: apt-get install docker.io docker-compose-plugin, or Docker's own packages)"))
	case errors.Is(err, compose.ErrNoEngine):
		return cmdutil.Unreachable(cmdutil.WithHint(err,
			"start the Docker engine (systemctl start docker), or point DOCKER_HOST at one; `docker info` must work",
			"without Docker, run the daemons on this machine with `tarsctl start --all`"))
	case errors.Is(err, compose.ErrNoCompose):
		return cmdutil.Unreachable(cmdutil.WithHint(err, "install the Compose v2 plugin (docker-compose-plugin); `docker compose version` must work"))
	}
	return err
}
