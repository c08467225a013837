package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Errors [Runner.Check] returns; each means Docker cannot be used here.
var (
	// ErrNoDocker: the docker command is not installed.
	ErrNoDocker = errors.New("the docker command was not found")
	// ErrNoEngine: docker is installed but no Docker engine answers.
	ErrNoEngine = errors.New("no Docker engine is reachable")
	// ErrNoCompose: the engine answers but `docker compose` (the Compose
	// v2 plugin) is missing.
	ErrNoCompose = errors.New("docker compose (the Compose v2 plugin) is not installed")
)

// DefaultCheckTimeout bounds `docker info` in [Runner.Check].
const DefaultCheckTimeout = 15 * time.Second

// Runner runs `docker compose -f File ...`.
type Runner struct {
	// Docker is the docker command: a path, or a name looked up in PATH
	// (default "docker").
	Docker string
	// File is the Compose file.
	File string
	// Env is docker's environment (nil: this process's).
	Env []string
	// Stdin, Stdout and Stderr are the streams `docker compose` runs with.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// CheckTimeout bounds `docker info` (default DefaultCheckTimeout).
	CheckTimeout time.Duration
}

// Check makes sure docker is installed, that a Docker engine answers
// `docker info`, and that the compose plugin is there, in that order. The
// error wraps [ErrNoDocker], [ErrNoEngine] or [ErrNoCompose] and says what
// docker reported.
func (r *Runner) Check(ctx context.Context) error {
	docker, err := r.path()
	if err != nil {
		return err
	}
	timeout := r.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info := exec.CommandContext(cctx, docker, "info", "--format", "{{.ServerVersion}}")
	info.Env = r.Env
	out, err := info.CombinedOutput()
	if cctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%w: `docker info` did not answer within %s", ErrNoEngine, timeout)
	}
	if err != nil || strings.TrimSpace(string(out)) == "" {
		msg := firstLine(out, err)
		// The usual cause on a machine without an engine; docker's own
		// message only asks whether the daemon is running.
		if sock := unixSocket(r.getenv("DOCKER_HOST")); sock != "" {
			if _, serr := os.Stat(sock); errors.Is(serr, os.ErrNotExist) {
				msg += " (the socket " + sock + " does not exist)"
			}
		}
		return fmt.Errorf("%w: `docker info` failed: %s", ErrNoEngine, msg)
	}
	version := exec.CommandContext(ctx, docker, "compose", "version", "--short")
	version.Env = r.Env
	out, err = version.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: `docker compose version` failed: %s", ErrNoCompose, firstLine(out, err))
	}
	return nil
}

// Run runs `docker compose -f File ARGS...` with the Runner's streams and
// returns docker's exit status (0 on success). err is set only when docker
// could not be started at all.
func (r *Runner) Run(ctx context.Context, args ...string) (int, error) {
	docker, err := r.path()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, docker, r.Args(args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = r.Stdin, r.Stdout, r.Stderr, r.Env
	// On cancellation (Ctrl-C) docker gets SIGINT, as from a terminal, so
	// `logs -f` and `up` stop the way they do when run by hand.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run docker compose: %w", err)
	}
	return 0, nil
}

// Args is the docker command line Run uses, without "docker".
func (r *Runner) Args(args ...string) []string {
	return append([]string{"compose", "-f", r.File}, args...)
}

func (r *Runner) getenv(key string) string {
	if r.Env == nil {
		return os.Getenv(key)
	}
	v := ""
	for _, kv := range r.Env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val // the last one wins, as for exec
		}
	}
	return v
}

func (r *Runner) path() (string, error) {
	name := r.Docker
	if name == "" {
		name = "docker"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w (%s)", ErrNoDocker, name)
	}
	return p, nil
}

// unixSocket returns the socket path of a DOCKER_HOST value: the default
// socket when it is empty, "" when it is not a unix socket.
func unixSocket(host string) string {
	if host == "" {
		return "/var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" {
		return ""
	}
	return u.Path
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(bytes.TrimSpace(out)))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		return err.Error()
	}
	return s
}
