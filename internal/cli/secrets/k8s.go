package secrets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// k8sRotation is a rotation of one key of a Kubernetes Secret.
type k8sRotation struct {
	What   string // "JWT secret"
	Secret string // tars-jwt-secret
	Key    string // jwt-secret
	New    func() []byte
}

var jwtK8s = k8sRotation{What: "JWT secret", Secret: secrets.K8sJWTSecret, Key: secrets.K8sJWTKey, New: secrets.NewJWTSecret}

// K8sRotateOptions are the inputs of `tarsctl secrets rotate ... --target k8s`.
type K8sRotateOptions struct {
	IO       *iostreams.IOStreams
	Runner   func() (k8srunner.Runner, error)
	Target   cmdutil.TargetFlags
	Rotation k8sRotation
	Rollback bool
	Yes      bool
	DryRun   bool
	Timeout  *time.Duration
	Output   string
	Quiet    bool
}

// withK8sTarget adds --target and the cluster flags to a rotate command and
// sends --target k8s to the Kubernetes rotation: update the Secret (the old
// value kept under KEY.previous for --rollback), then a rolling restart of
// every Deployment that uses it, watched until rolled out or --timeout.
// The command's own --rollback, --yes, --dry-run and --timeout apply.
func withK8sTarget(f *cmdutil.Factory, cmd *cobra.Command, rot k8sRotation) {
	opts := &K8sRotateOptions{IO: f.IOStreams, Runner: cmdutil.K8sRunner, Rotation: rot}
	opts.Target.AddTargetFlags(cmd)
	cmd.Long = strings.Replace(cmd.Long, "EXIT STATUS", fmt.Sprintf(k8sRotateHelp, rot.Secret, rot.Key, rot.Key+k8sapi.PreviousSuffix), 1)
	local := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		isK8s, err := opts.Target.K8s(c)
		if err != nil || !isK8s {
			if err != nil {
				return err
			}
			return local(c, args)
		}
		for _, name := range []string{"username", "password-stdin", "skip-verify", "grace"} {
			if fl := c.Flags().Lookup(name); fl != nil && fl.Changed {
				return cmdutil.FlagErrorf("--%s is for the local target; with --target k8s the rollout is watched instead", name)
			}
		}
		fl := c.Flags()
		opts.Rollback, _ = fl.GetBool("rollback")
		opts.Yes, _ = fl.GetBool("yes")
		opts.DryRun, _ = fl.GetBool("dry-run")
		timeout, _ := fl.GetDuration("timeout")
		if !fl.Changed("timeout") {
			timeout = k8sapi.DefaultRolloutTimeout
		}
		opts.Timeout = &timeout
		opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
		if !opts.DryRun {
			if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, k8sRotateAction(rot)); err != nil {
				return err
			}
		}
		return rotateK8sRun(c.Context(), opts)
	}
}

func rotateK8sRun(ctx context.Context, opts *K8sRotateOptions) error {
	r, err := opts.Runner()
	if err != nil {
		return err
	}
	rot := opts.Rotation
	if !opts.DryRun {
		verb := "Rotate"
		if opts.Rollback {
			verb = "Roll back"
		}
		if err := cmdutil.Confirm(opts.IO, opts.Yes, k8sRotateAction(rot),
			fmt.Sprintf("%s the %s in Secret %s and restart the pods that use it?", verb, rot.What, rot.Secret)); err != nil {
			return err
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	res, err := r.UpdateSecret(ctx, k8sapi.SecretUpdate{
		Target:   opts.Target.Conn,
		Secret:   rot.Secret,
		Key:      rot.Key,
		Generate: func([]byte) ([]byte, error) { return rot.New(), nil },
		Rollback: opts.Rollback,
		DryRun:   opts.DryRun,
		Timeout:  *opts.Timeout,
		Progress: cmdutil.RolloutPrinter(st),
	})
	if err != nil {
		return cmdutil.WithHint(cmdutil.ClassifyK8s(err),
			fmt.Sprintf("the previous value is kept under %s%s: tarsctl secrets rotate ... --target k8s --rollback puts it back", rot.Key, k8sapi.PreviousSuffix))
	}
	switch {
	case opts.DryRun:
		st.Info("would write a new %s to Secret %s/%s key %s (the old one kept under %s%s) and restart %d Deployment(s): %v",
			rot.What, res.Namespace, rot.Secret, rot.Key, rot.Key, k8sapi.PreviousSuffix, len(res.Restarted), res.Restarted)
		return nil
	case res.RolledBack:
		st.Success("Restored the previous %s in Secret %s/%s", rot.What, res.Namespace, rot.Secret)
	case res.Created:
		st.Success("Created Secret %s/%s with a new %s", res.Namespace, rot.Secret, rot.What)
	default:
		st.Success("Wrote a new %s to Secret %s/%s (the old one is under %s%s)", rot.What, res.Namespace, rot.Secret, rot.Key, k8sapi.PreviousSuffix)
	}
	if len(res.Restarted) == 0 {
		st.Info("no Deployment in namespace %s uses Secret %s: nothing restarted", res.Namespace, rot.Secret)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	return nil
}

const k8sRotateHelp = `With --target k8s the Kubernetes Secret %s (key %s) is
rewritten instead, the replaced value kept under %s, and
every Deployment whose pods use the Secret gets a rolling restart, watched
until rolled out (--timeout, default 5m, then exit 6). --rollback swaps the
kept value back. --namespace, --kube-context and --kubeconfig pick the
cluster; the work runs in the tarsctl-k8s companion binary.

EXIT STATUS`

// k8sRotateAction names the rotation in confirmation errors.
func k8sRotateAction(rot k8sRotation) string {
	return fmt.Sprintf("rotating the %s (it restarts the pods that use it)", rot.What)
}
