package k8s

import (
	"context"
	"fmt"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// DefaultRolloutTimeout is how long a rollout restart is watched when the
// command's --timeout was not given.
const DefaultRolloutTimeout = 5 * time.Minute

// RestartOptions are the inputs of `tarsctl restart --target k8s`.
type RestartOptions struct {
	IO       *iostreams.IOStreams
	Runner   func() (Runner, error)
	Target   k8sapi.Target
	Release  string
	Services []string // empty: every Deployment of the release
	Timeout  time.Duration
	Output   string
	Quiet    bool
}

// RestartRun does a rolling restart of each service in turn (the
// kubectl.kubernetes.io/restartedAt annotation) and watches it like
// `kubectl rollout status` until it is rolled out, or --timeout (exit 6).
func RestartRun(ctx context.Context, opts *RestartOptions) error {
	r, err := runner(opts.Runner)
	if err != nil {
		return err
	}
	svcs := opts.Services
	if len(svcs) == 0 {
		st, err := r.Workloads(ctx, opts.Target, opts.Release)
		if err != nil {
			return Classify(err)
		}
		for _, d := range st.Deployments {
			svcs = append(svcs, d.Name)
		}
		if len(svcs) == 0 {
			return cmdutil.Failed(fmt.Errorf("release %s has no Deployments in namespace %s", opts.Release, st.Namespace))
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	progress := RolloutPrinter(st)
	var done []k8sapi.Workload
	for _, svc := range svcs {
		w, err := r.Restart(ctx, opts.Target, svc, opts.Timeout, progress)
		if err != nil {
			return Classify(err)
		}
		done = append(done, *w)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, done)
	}
	return nil
}

// RolloutPrinter prints each new rollout observation as a status line, as
// `kubectl rollout status` does.
func RolloutPrinter(st *ui.Status) func(k8sapi.RolloutProgress) {
	var last string
	return func(p k8sapi.RolloutProgress) {
		if p.Message == last {
			return
		}
		last = p.Message
		if p.Done {
			st.Success("%s", p.Message)
		} else {
			st.Info("%s", p.Message)
		}
	}
}

// WorkloadsOptions are the inputs of `tarsctl status --target k8s`.
type WorkloadsOptions struct {
	IO      *iostreams.IOStreams
	Runner  func() (Runner, error)
	Target  k8sapi.Target
	Release string
	Output  string
	Now     func() time.Time
}

// WorkloadsRun shows the release's Deployments, pods (readiness, restarts)
// and HPAs; it exits 1 when a Deployment is short of available replicas or
// a pod is not ready.
func WorkloadsRun(ctx context.Context, opts *WorkloadsOptions) error {
	r, err := runner(opts.Runner)
	if err != nil {
		return err
	}
	st, err := r.Workloads(ctx, opts.Target, opts.Release)
	if err != nil {
		return Classify(err)
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
func printWorkloads(opts *WorkloadsOptions, st *k8sapi.ClusterStatus) error {
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

func runner(get func() (Runner, error)) (Runner, error) {
	if get == nil {
		get = GetRunner
	}
	return get()
}
