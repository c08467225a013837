package lifecycle

import (
	"time"

	"github.com/spf13/cobra"

	k8scmd "github.com/tars-ops/tarsctl/internal/cli/deploy/k8s"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/services"
)

// restartK8s is `tarsctl restart --target k8s`: a watched rolling restart
// of each named service's Deployment, or of every Deployment of the
// release with --all.
func restartK8s(cmd *cobra.Command, f *cmdutil.Factory, t *k8scmd.TargetFlags, args []string, all bool, timeout time.Duration) error {
	if all == (len(args) > 0) {
		return cmdutil.FlagErrorf("name the services to restart or use --all, not both or neither")
	}
	if !cmd.Flags().Changed("timeout") {
		timeout = k8scmd.DefaultRolloutTimeout
	}
	if cmd.Flags().Changed("ready-timeout") {
		return cmdutil.FlagErrorf("--ready-timeout is for the local target; with --target k8s --timeout bounds the rollout")
	}
	svcs := make([]string, len(args))
	for i, a := range args {
		svcs[i] = services.Canonical(a)
	}
	return k8scmd.RestartRun(cmd.Context(), &k8scmd.RestartOptions{
		IO: f.IOStreams, Target: t.Conn, Release: t.Release, Services: svcs, Timeout: timeout,
		Output: f.Globals.Output, Quiet: f.Globals.Quiet,
	})
}

// statusK8s is `tarsctl status --target k8s`.
func statusK8s(cmd *cobra.Command, f *cmdutil.Factory, t *k8scmd.TargetFlags, args []string) error {
	if len(args) > 0 {
		return cmdutil.FlagErrorf("status --target k8s shows the whole release; filter with -o json | jq")
	}
	return k8scmd.WorkloadsRun(cmd.Context(), &k8scmd.WorkloadsOptions{
		IO: f.IOStreams, Target: t.Conn, Release: t.Release, Output: f.Globals.Output, Now: f.Now,
	})
}
