package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/supervisor"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// StatusOptions are the inputs of `tarsctl status`.
type StatusOptions struct {
	IO         *iostreams.IOStreams
	Supervisor func() (*supervisor.Supervisor, error)
	Services   []string
	Output     string
	Now        func() time.Time
}

// NewCmdStatus returns `tarsctl status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now}
	var target cmdutil.TargetFlags
	cmd := &cobra.Command{
		Use:   "status [SERVICE...]",
		Short: "Show whether the daemons run and are healthy",
		Long: heredoc.Doc(`
			Show each service's state (running, stopped, stale), pid, port, uptime,
			health (from its /health) and version: a table on a terminal,
			tab-separated rows otherwise, JSON with -o json. Without arguments, every
			service.

			With --target k8s, the Helm release in the cluster instead: its
			Deployments (ready/up-to-date/available), pods (phase, readiness,
			restarts) and HPAs (bounds, current and desired replicas).

			EXIT STATUS
			  0  every service asked about is running and healthy
			  1  one is not running, or not healthy
		`),
		Example: heredoc.Doc(`
			$ tarsctl status
			$ tarsctl status dashboard-api -o json | jq -r '.[0].health'
			$ tarsctl status -q || page-oncall "T.A.R.S. is down"
			$ tarsctl status --target k8s -n tars-prod
		`),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if isK8s, err := target.K8s(cmd); err != nil || isK8s {
				if err != nil {
					return err
				}
				return statusK8s(cmd, f, &target, args)
			}
			svcs, err := selectServices(args, false, true)
			if err != nil {
				return err
			}
			opts.Services, opts.Output = svcs, f.Globals.Output
			opts.Supervisor = supervisorFunc(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	target.AddTargetFlags(cmd)
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	sup, err := opts.Supervisor()
	if err != nil {
		return err
	}
	// Each /health is asked at once: status stays fast with many services.
	sts := make([]supervisor.Status, len(opts.Services))
	errs := make([]error, len(opts.Services))
	var wg sync.WaitGroup
	for i, svc := range opts.Services {
		wg.Go(func() { sts[i], errs[i] = sup.Status(ctx, svc) })
	}
	wg.Wait()
	bad := 0
	for i, err := range errs {
		if err != nil {
			return err
		}
		if sts[i].State != "running" || sts[i].Health != "healthy" {
			bad++
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, sts); err != nil {
			return err
		}
	} else {
		theme := ui.NewTheme(opts.IO)
		t := ui.NewTable(opts.IO, "service", "state", "pid", "port", "uptime", "health", "version")
		for _, s := range sts {
			pid, uptime := "", ""
			if s.PID > 0 {
				pid = fmt.Sprint(s.PID)
				uptime = s.Uptime.String()
				if !opts.IO.IsStdoutTTY() {
					uptime = fmt.Sprint(s.UptimeSec)
				}
			}
			health := s.Health
			if opts.IO.IsStdoutTTY() {
				switch health {
				case "healthy":
					health = theme.Success.Render(health)
				case "":
				default:
					health = theme.Failure.Render(health)
				}
			}
			t.AddRow(s.Service, s.State, pid, fmt.Sprint(s.Port), uptime, health, s.Version)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if bad > 0 {
		// The table already says what is wrong.
		return cmdutil.ErrSilent
	}
	return nil
}
