package cmdutil

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// Targets of --target.
const (
	TargetLocal = "local"
	TargetK8s   = "k8s"
)

// TargetFlags are --target and, for --target k8s, the cluster flags, on
// commands that work locally and on Kubernetes (restart, status, secrets
// rotate).
type TargetFlags struct {
	Target  string
	Conn    k8sapi.Target
	Release string
}

// AddTargetFlags adds --target (local by default), --namespace,
// --kube-context, --kubeconfig and --release to cmd.
func (t *TargetFlags) AddTargetFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&t.Target, "target", TargetLocal, "where the services run: local (daemons started by tarsctl start) or k8s (the Helm release)")
	EnumFlag(cmd, "target", TargetLocal, TargetK8s)
	AddKubeFlags(fl, &t.Conn)
	fl.StringVar(&t.Release, "release", k8sapi.DefaultRelease, "with --target k8s: the Helm release")
}

// K8s reports whether --target k8s was given; it rejects the cluster flags
// without it.
func (t *TargetFlags) K8s(cmd *cobra.Command) (bool, error) {
	if t.Target == TargetK8s {
		return true, nil
	}
	for _, name := range []string{"namespace", "kube-context", "kubeconfig", "release"} {
		if cmd.Flags().Changed(name) {
			return false, FlagErrorf("--%s is for --target k8s", name)
		}
	}
	return false, nil
}

// AddKubeFlags adds --namespace, --kube-context and --kubeconfig to fs,
// bound to t. deploy k8s, scale, restart, status and the secrets commands
// share them.
func AddKubeFlags(fs *pflag.FlagSet, t *k8sapi.Target) {
	fs.StringVarP(&t.Namespace, "namespace", "n", "", "Kubernetes namespace (default: the context's, then \"default\")")
	fs.StringVar(&t.Context, "kube-context", "", "kubeconfig context (default: its current context)")
	fs.StringVar(&t.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
}

// K8sRunner returns the Kubernetes runner ([k8srunner.Get]): in tarsctl it
// hands the command line over to tarsctl-k8s and does not return on
// success. Its errors carry their exit codes ([ClassifyK8s]).
func K8sRunner() (k8srunner.Runner, error) {
	r, err := k8srunner.Get()
	if err != nil {
		return nil, ClassifyK8s(err)
	}
	return r, nil
}

// ClassifyK8s turns the Kubernetes runner's errors into tarsctl's exit
// codes: an API or a companion binary that cannot be reached is 3, a wait
// that timed out 6, refused credentials 4, bad values 2, anything else 1.
func ClassifyK8s(err error) error {
	var (
		exitErr  *ExitError
		flagErr  *FlagError
		notFound *k8srunner.CompanionNotFoundError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr), errors.As(err, &flagErr):
		return err
	case errors.As(err, &notFound):
		return WithHint(Unreachable(err),
			k8srunner.CompanionName+" ships in the same release archive as tarsctl: put it next to tarsctl or on $PATH, or set $"+k8srunner.EnvCompanion+" to its path",
			"from a source checkout: make build (writes bin/tarsctl and bin/tarsctl-k8s)")
	case errors.Is(err, k8srunner.ErrCompanion):
		return Unreachable(err)
	case errors.Is(err, k8sapi.ErrUnreachable):
		return WithHint(Unreachable(err), "check --kubeconfig/--kube-context (or $KUBECONFIG) point at a running cluster")
	case errors.Is(err, k8sapi.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return WithHint(Timeout(err), "raise --timeout, or look at the pods with tarsctl status --target k8s")
	case errors.Is(err, k8sapi.ErrForbidden):
		return PermissionDenied(err)
	case errors.Is(err, k8sapi.ErrBadInput):
		return WithExitCode(ExitUsage, err)
	default:
		return Failed(err)
	}
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
