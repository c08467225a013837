package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// Runner does the Kubernetes work. tarsctl-k8s sets an in-process one with
// [SetRunner] (Helm SDK + client-go); tarsctl has none and execs the
// companion instead, so its own start-up never pays for those libraries.
type Runner interface {
	Install(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error)
	Upgrade(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error)
	Rollback(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error)
	Uninstall(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.UninstallResult, error)
	Status(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error)
	History(ctx context.Context, req k8sapi.ReleaseRequest) ([]k8sapi.Release, error)
	Template(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error)

	Scale(ctx context.Context, t k8sapi.Target, service string, replicas int32) (*k8sapi.ScaleResult, error)
	Restart(ctx context.Context, t k8sapi.Target, service string, timeout time.Duration, progress func(k8sapi.RolloutProgress)) (*k8sapi.Workload, error)
	Workloads(ctx context.Context, t k8sapi.Target, release string) (*k8sapi.ClusterStatus, error)
	UpdateSecret(ctx context.Context, u k8sapi.SecretUpdate) (*k8sapi.SecretUpdateResult, error)
	// ReadSecret returns one key of a Secret (secrets rotate redis-password
	// needs the password in force to authenticate before it adds a new one).
	ReadSecret(ctx context.Context, t k8sapi.Target, secret, key string) ([]byte, error)
}

var inProcess Runner

// SetRunner makes the Kubernetes commands run in this process with r.
// Only tarsctl-k8s calls it, before running the command line.
func SetRunner(r Runner) { inProcess = r }

// CompanionName is the companion binary's file name.
const CompanionName = "tarsctl-k8s"

// Environment variables of the companion hand-over.
const (
	// EnvCompanion overrides where tarsctl looks for tarsctl-k8s.
	EnvCompanion = "TARSCTL_K8S"
	// envHandedOver marks a process tarsctl exec'd, so a binary without
	// the Kubernetes commands never execs itself in a loop.
	envHandedOver = "TARSCTL_K8S_HANDED_OVER"
)

// GetRunner returns the in-process runner. Without one it replaces this
// process with tarsctl-k8s running the same command line, so on success it
// does not return; it returns an error (exit 3) when the companion cannot
// be found or started.
func GetRunner() (Runner, error) {
	if inProcess != nil {
		return inProcess, nil
	}
	if os.Getenv(envHandedOver) != "" {
		return nil, cmdutil.Unreachable(fmt.Errorf("%s=%s does not have the Kubernetes commands built in: point it at the tarsctl-k8s binary",
			EnvCompanion, os.Getenv(EnvCompanion)))
	}
	if !isKubernetesCommandLine(os.Args[1:]) {
		// tarsctl run as a library (app.Run in a test): os.Args is not the
		// command line being run, so handing it over would run something else.
		return nil, cmdutil.Failed(errors.New("the Kubernetes commands run in tarsctl-k8s, and this process's own command line is not the one to hand over"))
	}
	path, _, err := FindCompanion(os.Getenv, os.Executable, exec.LookPath)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), envHandedOver+"=1")
	err = syscall.Exec(path, os.Args, env)
	return nil, cmdutil.Unreachable(fmt.Errorf("run %s: %w", path, err))
}

// isKubernetesCommandLine reports whether args name one of the commands
// that hand over: deploy k8s, scale, or --target k8s.
func isKubernetesCommandLine(args []string) bool {
	for i, a := range args {
		switch {
		case a == "k8s" || a == "scale" || a == "--target=k8s":
			return true
		case a == "--target" && i+1 < len(args) && args[i+1] == TargetK8s:
			return true
		}
	}
	return false
}

// FindCompanion locates tarsctl-k8s: $TARSCTL_K8S when set, else next to
// the running executable, else on $PATH. The error (exit 3) names every
// place it looked.
func FindCompanion(getenv func(string) string, executable func() (string, error), lookPath func(string) (string, error)) (string, []string, error) {
	var looked []string
	if p := getenv(EnvCompanion); p != "" {
		looked = append(looked, p+" ($"+EnvCompanion+")")
		if isExecutable(p) {
			return p, looked, nil
		}
		return "", looked, missing(looked)
	}
	if exe, err := executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), CompanionName)
		looked = append(looked, p)
		if isExecutable(p) {
			return p, looked, nil
		}
	}
	looked = append(looked, "$PATH")
	if p, err := lookPath(CompanionName); err == nil {
		return p, looked, nil
	}
	return "", looked, missing(looked)
}

func missing(looked []string) error {
	return cmdutil.WithHint(cmdutil.Unreachable(fmt.Errorf("the Kubernetes commands need the %s companion binary, which was not found (looked in %s)",
		CompanionName, strings.Join(looked, ", "))),
		"tarsctl-k8s ships in the same release archive as tarsctl: put it next to tarsctl or on $PATH, or set $"+EnvCompanion+" to its path",
		"from a source checkout: make build (writes bin/tarsctl and bin/tarsctl-k8s)")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// Classify turns the runner's errors into tarsctl's exit codes: an API
// that cannot be reached is 3, a wait that timed out 6, refused
// credentials 4, bad values 2, anything else 1.
func Classify(err error) error {
	var exitErr *cmdutil.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		return err
	case errors.Is(err, k8sapi.ErrUnreachable):
		return cmdutil.WithHint(cmdutil.Unreachable(err), "check --kubeconfig/--kube-context (or $KUBECONFIG) point at a running cluster")
	case errors.Is(err, k8sapi.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return cmdutil.WithHint(cmdutil.Timeout(err), "raise --timeout, or look at the pods with tarsctl status --target k8s")
	case errors.Is(err, k8sapi.ErrForbidden):
		return cmdutil.PermissionDenied(err)
	case errors.Is(err, k8sapi.ErrBadInput):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	default:
		return cmdutil.Failed(err)
	}
}
