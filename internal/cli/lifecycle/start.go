package lifecycle

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/supervisor"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// StartOptions are the inputs of `tarsctl start`.
type StartOptions struct {
	IO         *iostreams.IOStreams
	Supervisor func() (*supervisor.Supervisor, error)
	Services   []string
	Timeout    time.Duration
	Output     string
	Quiet      bool
}

// NewCmdStart returns `tarsctl start`.
func NewCmdStart(f *cmdutil.Factory, runF func(context.Context, *StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IOStreams}
	var all bool
	cmd := &cobra.Command{
		Use:   "start [SERVICE...|--all]",
		Short: "Start T.A.R.S. daemons in the background",
		Long: heredoc.Docf(`
			Start daemons in the background: each runs tarsctl serve SERVICE in its
			own session and process group, logging to LOG_DIR/SERVICE.log (rotated
			by size), with a pidfile in RUN_DIR. start waits until each answers
			/ready, in dependency order (%s), and fails with the last lines
			of the daemon's log if it does not.

			A service that is already running is left alone. A stale pidfile (its
			process gone, or the pid now used by another program) is reported and
			removed. The daemons get this command's --profile, --config and --set.

			EXIT STATUS
			  0  every service is running
			  1  a service failed to start
			  6  a service was not ready within --timeout
		`, strings.Join(services.Names(), " → ")),
		Example: heredoc.Doc(`
			$ tarsctl start --all
			$ tarsctl start dashboard-api --profile docker
		`),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			svcs, err := selectServices(args, all, false)
			if err != nil {
				return err
			}
			opts.Services, opts.Output, opts.Quiet = svcs, f.Globals.Output, f.Globals.Quiet
			opts.Supervisor = supervisorFunc(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return startRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "start every service")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait for each service to be ready")
	return cmd
}

type startJSON struct {
	Service        string `json:"service"`
	PID            int    `json:"pid"`
	Port           int    `json:"port"`
	AlreadyRunning bool   `json:"already_running"`
	StaleRemoved   bool   `json:"stale_pidfile_removed"`
	LogFile        string `json:"log_file"`
}

func startRun(ctx context.Context, opts *StartOptions) error {
	out, err := startServices(ctx, opts)
	if err != nil {
		return err
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, out)
	}
	return nil
}

// startServices starts opts.Services in order, reporting each on stderr,
// and returns what it did for the JSON output.
func startServices(ctx context.Context, opts *StartOptions) ([]startJSON, error) {
	sup, err := opts.Supervisor()
	if err != nil {
		return nil, err
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	var out []startJSON
	for _, svc := range opts.Services {
		res, err := sup.Start(ctx, svc, opts.Timeout)
		if res.StaleRemoved != nil {
			st.Warning("%s: removed a stale pidfile (pid %d is gone or belongs to another program)", svc, res.StaleRemoved.PID)
		}
		if err != nil {
			if errors.Is(err, supervisor.ErrNotReady) {
				return out, cmdutil.Timeout(err)
			}
			return out, cmdutil.WithHint(cmdutil.Failed(err), "see the whole log with `tarsctl logs "+svc+"`")
		}
		p := res.Pidfile
		if res.AlreadyRunning {
			st.Info("%s is already running (pid %d, port %d)", svc, p.PID, p.Port)
		} else {
			st.Success("Started %s (pid %d, port %d)", svc, p.PID, p.Port)
		}
		out = append(out, startJSON{svc, p.PID, p.Port, res.AlreadyRunning, res.StaleRemoved != nil, p.LogFile})
	}
	return out, nil
}
