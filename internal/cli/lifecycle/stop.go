package lifecycle

import (
	"context"
	"slices"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/supervisor"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// StopOptions are the inputs of `tarsctl stop` and `tarsctl restart`.
type StopOptions struct {
	IO         *iostreams.IOStreams
	Supervisor func() (*supervisor.Supervisor, error)
	Services   []string
	Timeout    time.Duration // for stop
	ReadyWait  time.Duration // for restart's start
	DryRun     bool
	Output     string
	Quiet      bool
}

// NewCmdStop returns `tarsctl stop`.
func NewCmdStop(f *cmdutil.Factory, runF func(context.Context, *StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams}
	var all bool
	cmd := &cobra.Command{
		Use:   "stop [SERVICE...|--all]",
		Short: "Stop T.A.R.S. daemons started with tarsctl start",
		Long: heredoc.Doc(`
			Stop daemons: SIGTERM to each one's process group, so it drains
			in-flight requests and exits; after --timeout (30s, the runbook's
			maximum) SIGKILL to the whole group, with a warning, so no child
			survives. Services stop in reverse dependency order. A service that is
			not running is left alone; a stale pidfile is removed. tarsctl only
			ever signals processes it started (pid and start time must match).

			EXIT STATUS
			  0  every named service is stopped
			  1  a service could not be stopped
		`),
		Example: heredoc.Doc(`
			$ tarsctl stop --all
			$ tarsctl stop hypersync --timeout 10s
		`),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			svcs, err := selectServices(args, all, false)
			if err != nil {
				return err
			}
			slices.Reverse(svcs)
			opts.Services, opts.Output, opts.Quiet = svcs, f.Globals.Output, f.Globals.Quiet
			opts.Supervisor = supervisorFunc(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return stopRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "stop every service")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait after SIGTERM before SIGKILL")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would be stopped and stop there")
	return cmd
}

func supervisorFunc(f *cmdutil.Factory) func() (*supervisor.Supervisor, error) {
	return func() (*supervisor.Supervisor, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return cmdutil.NewSupervisor(f, cfg)
	}
}

type stopJSON struct {
	Service      string `json:"service"`
	WasRunning   bool   `json:"was_running"`
	PID          int    `json:"pid,omitempty"`
	Killed       bool   `json:"killed"`
	StaleRemoved bool   `json:"stale_pidfile_removed"`
}

func stopRun(ctx context.Context, opts *StopOptions) error {
	out, err := stopServices(ctx, opts)
	if err != nil {
		return err
	}
	if opts.Output == cmdutil.OutputJSON && !opts.DryRun {
		return ui.WriteJSON(opts.IO.Out, out)
	}
	return nil
}

// stopServices stops opts.Services in order (or says what it would do
// under --dry-run), reporting each on stderr, and returns what it did for
// the JSON output.
func stopServices(ctx context.Context, opts *StopOptions) ([]stopJSON, error) {
	sup, err := opts.Supervisor()
	if err != nil {
		return nil, err
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	var out []stopJSON
	for _, svc := range opts.Services {
		if opts.DryRun {
			s, err := sup.Status(ctx, svc)
			if err != nil {
				return nil, err
			}
			if s.State == "running" {
				st.Info("would stop %s (pid %d)", svc, s.PID)
			} else {
				st.Info("%s is %s: nothing to stop", svc, s.State)
			}
			continue
		}
		res, err := sup.Stop(ctx, svc, opts.Timeout)
		if res.StaleRemoved != nil {
			st.Warning("%s: removed a stale pidfile (pid %d is gone or belongs to another program)", svc, res.StaleRemoved.PID)
		}
		if err != nil {
			return out, cmdutil.Failed(err)
		}
		switch {
		case res.Killed:
			st.Warning("%s did not stop within %s: killed (pid %d and its process group)", svc, opts.Timeout, res.Pidfile.PID)
		case res.WasRunning:
			st.Success("Stopped %s (pid %d)", svc, res.Pidfile.PID)
		default:
			st.Info("%s is not running", svc)
		}
		out = append(out, stopJSON{svc, res.WasRunning, res.Pidfile.PID, res.Killed, res.StaleRemoved != nil})
	}
	return out, nil
}

// NewCmdRestart returns `tarsctl restart`.
func NewCmdRestart(f *cmdutil.Factory, runF func(context.Context, *StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams}
	var all bool
	var target cmdutil.TargetFlags
	cmd := &cobra.Command{
		Use:   "restart [SERVICE...|--all]",
		Short: "Restart T.A.R.S. daemons, one at a time",
		Long: heredoc.Doc(`
			Stop and start each service in turn, waiting for it to be ready before
			the next, so the others keep serving. See tarsctl stop and tarsctl start.

			With --target k8s, a rolling restart of each service's Deployment in the
			cluster instead (the kubectl.kubernetes.io/restartedAt annotation, as
			kubectl rollout restart), watched like kubectl rollout status until it
			is rolled out; --timeout (default 5m there) bounds the watch, then exit
			6. --all restarts every Deployment of --release.
		`),
		Example: heredoc.Doc(`
			$ tarsctl restart dashboard-api
			$ tarsctl restart dashboard-api --target k8s -n tars-prod
		`),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if isK8s, err := target.K8s(cmd); err != nil || isK8s {
				if err != nil {
					return err
				}
				return restartK8s(cmd, f, &target, args, all, opts.Timeout)
			}
			svcs, err := selectServices(args, all, false)
			if err != nil {
				return err
			}
			opts.Services, opts.Output, opts.Quiet = svcs, f.Globals.Output, f.Globals.Quiet
			opts.Supervisor = supervisorFunc(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return restartRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "restart every service")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait after SIGTERM before SIGKILL")
	cmd.Flags().DurationVar(&opts.ReadyWait, "ready-timeout", 30*time.Second, "how long to wait for each service to be ready again")
	target.AddTargetFlags(cmd)
	return cmd
}

// restartJSON is one service's entry in `restart -o json`: what the stop
// found and what the start did.
type restartJSON struct {
	Service string    `json:"service"`
	Stopped stopJSON  `json:"stopped"`
	Started startJSON `json:"started"`
}

func restartRun(ctx context.Context, opts *StopOptions) error {
	quiet := opts.Quiet || opts.Output == cmdutil.OutputJSON
	out := []restartJSON{}
	for _, svc := range opts.Services {
		one := *opts
		one.Services = []string{svc}
		one.Output = cmdutil.OutputText
		one.Quiet = quiet
		stopped, err := stopServices(ctx, &one)
		if err != nil {
			return err
		}
		started, err := startServices(ctx, &StartOptions{IO: opts.IO, Supervisor: opts.Supervisor, Services: []string{svc},
			Timeout: opts.ReadyWait, Output: cmdutil.OutputText, Quiet: quiet})
		if err != nil {
			return err
		}
		out = append(out, restartJSON{Service: svc, Stopped: stopped[0], Started: started[0]})
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, out)
	}
	return nil
}
