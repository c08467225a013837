package k8s

import (
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
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
	cmdutil.EnumFlag(cmd, "target", TargetLocal, TargetK8s)
	AddTargetFlags(fl, &t.Conn)
	fl.StringVar(&t.Release, "release", DefaultRelease, "with --target k8s: the Helm release")
}

// K8s reports whether --target k8s was given; it rejects the cluster flags
// without it.
func (t *TargetFlags) K8s(cmd *cobra.Command) (bool, error) {
	if t.Target == TargetK8s {
		return true, nil
	}
	for _, name := range []string{"namespace", "kube-context", "kubeconfig", "release"} {
		if cmd.Flags().Changed(name) {
			return false, cmdutil.FlagErrorf("--%s is for --target k8s", name)
		}
	}
	return false, nil
}
