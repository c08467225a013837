package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// restartK8s is `tarsctl restart --target k8s`: a watched rolling restart
// of each named service's Deployment, or of every Deployment of the
// release with --all.
func restartK8s(cmd *cobra.Command, f *cmdutil.Factory, t *cmdutil.TargetFlags, args []string, all bool, timeout time.Duration) error {
	if all == (len(args) > 0) {
		return cmdutil.FlagErrorf("name the services to restart or use --all, not both or neither")
	}
	if !cmd.Flags().Changed("timeout") {
		timeout = k8sapi.DefaultRolloutTimeout
	}
	if cmd.Flags().Changed("ready-timeout") {
		return cmdutil.FlagErrorf("--ready-timeout is for the local target; with --target k8s --timeout bounds the rollout")
	}
	svcs := make([]string, len(args))
	for i, a := range args {
		svcs[i] = services.Canonical(a)
	}
	return restartK8sRun(cmd.Context(), &RestartK8sOptions{
		IO: f.IOStreams, Runner: cmdutil.K8sRunner, Target: t.Conn, Release: t.Release, Services: svcs, Timeout: timeout,
		Output: f.Globals.Output, Quiet: f.Globals.Quiet,
	})
}

// statusK8s is `tarsctl status --target k8s`.
func statusK8s(cmd *cobra.Command, f *cmdutil.Factory, t *cmdutil.TargetFlags, args []string) error {
	if len(args) > 0 {
		return cmdutil.FlagErrorf("status --target k8s shows the whole release; filter with -o json | jq")
	}
	return statusK8sRun(cmd.Context(), &StatusK8sOptions{
		IO: f.IOStreams, Runner: cmdutil.K8sRunner, Target: t.Conn, Release: t.Release, Output: f.Globals.Output, Now: f.Now,
	})
}

// RestartK8sOptions are the inputs of `tarsctl restart --target k8s`.
type RestartK8sOptions struct {
	IO       *iostreams.IOStreams
	Runner   func() (k8srunner.Runner, error)
	Target   k8sapi.Target
	Release  string
	Services []string // empty: every Deployment of the release
	Timeout  time.Duration
	Output   string
	Quiet    bool
}

// restartK8sRun does a rolling restart of each service in turn (the
// kubectl.kubernetes.io/restartedAt annotation) and watches it like
// `kubectl rollout status` until it is rolled out, or --timeout (exit 6).
func restartK8sRun(ctx context.Context, opts *RestartK8sOptions) error {
	r, err := opts.Runner()
	if err != nil {
		return err
	}
	svcs := opts.Services
	if len(svcs) == 0 {
		st, err := r.Workloads(ctx, opts.Target, opts.Release)
		if err != nil {
			return cmdutil.ClassifyK8s(err)
		}
		for _, d := range st.Deployments {
			svcs = append(svcs, d.Name)
		}
		if len(svcs) == 0 {
			return cmdutil.Failed(fmt.Errorf("release %s has no Deployments in namespace %s", opts.Release, st.Namespace))
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	progress := cmdutil.RolloutPrinter(st)
	var done []k8sapi.Workload
	for _, svc := range svcs {
		w, err := r.Restart(ctx, opts.Target, svc, opts.Timeout, progress)
		if err != nil {
			return cmdutil.ClassifyK8s(err)
		}
		done = append(done, *w)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, done)
	}
	return nil
}

// StatusK8sOptions are the inputs of `tarsctl status --target k8s`.
type StatusK8sOptions struct {
	IO      *iostreams.IOStreams
	Runner  func() (k8srunner.Runner, error)
	Target  k8sapi.Target
	Release string
	Output  string
	Now     func() time.Time
}

// statusK8sRun shows the release's Deployments, pods (readiness, restarts)
// and HPAs; it exits 1 when a Deployment is short of available replicas or
// a pod is not ready.
func statusK8sRun(ctx context.Context, opts *StatusK8sOptions) error {
	r, err := opts.Runner()
	if err != nil {
		return err
	}
	st, err := r.Workloads(ctx, opts.Target, opts.Release)
	if err != nil {
		return cmdutil.ClassifyK8s(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, st); err != nil {
			return err
		}
	} else if err := printWorkloads(opts, st); err != nil {
		return err
	}
	if !st.Healthy() {
		return cmdutil.ErrSilent
	}
	return nil
}

// printWorkloads writes three tables; names carry their kind
// (deployment/x, pod/x, hpa/x) as kubectl prints them, so the header-less
// rows without a terminal stay tell-apart for awk and grep.
func printWorkloads(opts *StatusK8sOptions, st *k8sapi.ClusterStatus) error {
	tty := opts.IO.IsStdoutTTY()
	t := ui.NewTable(opts.IO, "deployment", "ready", "up-to-date", "available")
	for _, d := range st.Deployments {
		t.AddRow("deployment/"+d.Name, fmt.Sprintf("%d/%d", d.Ready, d.Replicas), fmt.Sprint(d.Updated), fmt.Sprint(d.Available))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if tty {
		fmt.Fprintln(opts.IO.Out)
	}
	t = ui.NewTable(opts.IO, "pod", "service", "phase", "ready", "restarts", "age")
	if opts.Now != nil {
		t.SetNow(opts.Now)
	}
	for _, p := range st.Pods {
		t.AddRow("pod/"+p.Name, p.Service, p.Phase, fmt.Sprint(p.Ready), fmt.Sprint(p.Restarts), t.Time(p.Created))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(st.HPAs) == 0 {
		return nil
	}
	if tty {
		fmt.Fprintln(opts.IO.Out)
	}
	t = ui.NewTable(opts.IO, "hpa", "target", "min", "max", "current", "desired", "metrics")
	for _, h := range st.HPAs {
		t.AddRow("hpa/"+h.Name, h.Target, fmt.Sprint(h.MinReplicas), fmt.Sprint(h.MaxReplicas), fmt.Sprint(h.CurrentReplicas), fmt.Sprint(h.DesiredReplicas), h.Metrics)
	}
	return t.Render()
}
