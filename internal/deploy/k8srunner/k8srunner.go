// Package k8srunner is where tarsctl's Kubernetes commands get the code
// that does their work: a [Runner] (the Helm v3 SDK and client-go) that
// only the tarsctl-k8s companion binary links and installs with [Set].
// tarsctl itself has none, so [Get] replaces the process with tarsctl-k8s
// running the same command line (git/kubectl-plugin style), keeping
// tarsctl's start-up free of those libraries' ~80 ms of initialisation.
//
// It imports neither Helm nor client-go, and knows nothing of commands or
// exit codes: internal/cmdutil gives its errors their exit codes.
//
// # Finding the companion
//
// [FindCompanion] looks at $TARSCTL_K8S when it is set (and only there),
// else next to the running executable, else on $PATH.
package k8srunner

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

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// Runner does the Kubernetes work. Implementations report failures with
// the errors of [k8sapi] (ErrUnreachable, ErrTimeout, ErrForbidden,
// ErrBadInput, ErrNotFound) wrapped.
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

// Set makes the Kubernetes commands run in this process with r. Only
// tarsctl-k8s calls it, before running the command line.
func Set(r Runner) { inProcess = r }

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

// Errors of [Get].
var (
	// ErrCompanion: the companion could not be run (not found, not
	// executable, or a binary without the Kubernetes commands). A
	// [*CompanionNotFoundError] matches it too.
	ErrCompanion = errors.New("the tarsctl-k8s companion cannot run")
	// ErrNotCommandLine: tarsctl runs as a library (app.Run in a test), so
	// os.Args is not the command line being run and cannot be handed over.
	ErrNotCommandLine = errors.New("the Kubernetes commands run in tarsctl-k8s, and this process's own command line is not the one to hand over")
)

// companionError is an [ErrCompanion] with its own message.
type companionError struct{ msg string }

func (e *companionError) Error() string        { return e.msg }
func (e *companionError) Is(target error) bool { return target == ErrCompanion }

// CompanionNotFoundError says where [FindCompanion] looked.
type CompanionNotFoundError struct{ Looked []string }

func (e *CompanionNotFoundError) Error() string {
	return fmt.Sprintf("the Kubernetes commands need the %s companion binary, which was not found (looked in %s)",
		CompanionName, strings.Join(e.Looked, ", "))
}

// Is makes the error match [ErrCompanion].
func (e *CompanionNotFoundError) Is(target error) bool { return target == ErrCompanion }

// Get returns the in-process runner. Without one it replaces this process
// with tarsctl-k8s running the same command line, so on success it does
// not return; it returns an error matching [ErrCompanion] when the
// companion cannot be found or started, and [ErrNotCommandLine] when this
// process's command line is not a Kubernetes one.
func Get() (Runner, error) {
	if inProcess != nil {
		return inProcess, nil
	}
	if os.Getenv(envHandedOver) != "" {
		return nil, &companionError{fmt.Sprintf("%s=%s does not have the Kubernetes commands built in: point it at the tarsctl-k8s binary",
			EnvCompanion, os.Getenv(EnvCompanion))}
	}
	if !isKubernetesCommandLine(os.Args[1:]) {
		return nil, ErrNotCommandLine
	}
	path, _, err := FindCompanion(os.Getenv, os.Executable, exec.LookPath)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), envHandedOver+"=1")
	err = syscall.Exec(path, os.Args, env)
	return nil, &companionError{fmt.Sprintf("run %s: %v", path, err)}
}

// isKubernetesCommandLine reports whether args name one of the commands
// that hand over: deploy k8s, scale, or --target k8s.
func isKubernetesCommandLine(args []string) bool {
	for i, a := range args {
		switch {
		case a == "k8s" || a == "scale" || a == "--target=k8s":
			return true
		case a == "--target" && i+1 < len(args) && args[i+1] == "k8s":
			return true
		}
	}
	return false
}

// FindCompanion locates tarsctl-k8s: $TARSCTL_K8S when set, else next to
// the running executable, else on $PATH. It returns the path and every
// place it looked; the error is a [*CompanionNotFoundError].
func FindCompanion(getenv func(string) string, executable func() (string, error), lookPath func(string) (string, error)) (string, []string, error) {
	var looked []string
	if p := getenv(EnvCompanion); p != "" {
		looked = append(looked, p+" ($"+EnvCompanion+")")
		if isExecutable(p) {
			return p, looked, nil
		}
		return "", looked, &CompanionNotFoundError{Looked: looked}
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
	return "", looked, &CompanionNotFoundError{Looked: looked}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
