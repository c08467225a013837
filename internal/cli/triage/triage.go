// Package triage implements `tarsctl triage`: one command that runs the
// runbook's diagnostics, and helpers for the incidents they point to.
package triage

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdTriage returns the `tarsctl triage` command group. Without a
// subcommand it runs the checks, like `tarsctl triage run`.
func NewCmdTriage(f *cmdutil.Factory) *cobra.Command {
	run := NewCmdRun(f, nil)
	cmd := &cobra.Command{
		Use:   "triage [command]",
		Short: "Diagnose a T.A.R.S. installation",
		Long: heredoc.Doc(`
			Run the runbook's diagnostics in one command: daemons, API latency,
			Redis, PostgreSQL, disk, certificates, key ages and log patterns.
			Without a subcommand, triage runs every check (tarsctl triage run).
		`),
		Example: heredoc.Doc(`
			$ tarsctl triage
			$ tarsctl triage run --check redis --check postgres -o json
			$ tarsctl triage playbook high-latency
			$ tarsctl triage jwt decode "$TOKEN"
		`),
	}
	cmdutil.GroupCommand(cmd)
	// `tarsctl triage` alone runs the checks with run's flags.
	cmd.Flags().AddFlagSet(run.Flags())
	cmd.RunE = run.RunE
	cmd.AddCommand(run, NewCmdPlaybook(f, nil), NewCmdBundle(f, nil), NewCmdJWT(f), NewCmdRateLimit(f), NewCmdSessions(f))
	return cmd
}
