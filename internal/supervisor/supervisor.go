package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrNotReady is returned by [Supervisor.Start] when the daemon did not
// answer /ready in time.
var ErrNotReady = errors.New("not ready in time")

// Options configure a [Supervisor].
type Options struct {
	RunDir string // pidfiles and locks
	LogDir string
	// LogFile returns the log file of service (default LOG_DIR/<service>.log).
	LogFile func(service string) string
	// Command returns the program and arguments that run service in the
	// foreground (tarsctl serve SERVICE ...), given its log file.
	Command func(service, logFile string) []string
	// ReadyURL and HealthURL return the daemon's /ready and /health URLs.
	ReadyURL  func(service string) string
	HealthURL func(service string) string
	Port      func(service string) int
	Version   string
	Env       []string // nil: the current environment
	Client    *http.Client
	Now       func() time.Time
}

// Supervisor manages daemons through pidfiles.
type Supervisor struct{ opts Options }

// New returns a Supervisor.
func New(opts Options) *Supervisor {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 2 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogFile == nil {
		dir := opts.LogDir
		opts.LogFile = func(service string) string { return filepath.Join(dir, service+".log") }
	}
	return &Supervisor{opts: opts}
}

// StartResult says what Start did.
type StartResult struct {
	Pidfile        Pidfile
	AlreadyRunning bool
	StaleRemoved   *Pidfile // a stale pidfile that was found and cleaned
}

// Start launches service detached and waits until it answers /ready or
// timeout passes. A service already running is left alone.
func (s *Supervisor) Start(ctx context.Context, service string, timeout time.Duration) (StartResult, error) {
	var res StartResult
	unlock, err := s.lock(service)
	if err != nil {
		return res, err
	}
	defer unlock()

	old, err := s.readPidfile(service)
	if err != nil {
		return res, err
	}
	if old != nil {
		if alive(old) {
			res.Pidfile, res.AlreadyRunning = *old, true
			return res, nil
		}
		res.StaleRemoved = old
		if err := s.removePidfile(service); err != nil {
			return res, err
		}
	}

	if err := os.MkdirAll(filepath.Dir(s.opts.LogFile(service)), 0o750); err != nil {
		return res, fmt.Errorf("create log directory: %w", err)
	}
	logPath := s.opts.LogFile(service)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return res, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	startOffset, _ := logf.Seek(0, io.SeekEnd)

	argv := s.opts.Command(service, logPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = s.opts.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: no controlling terminal, its own process group (so
	// stop can signal every child), and untouched by the user's Ctrl-C.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", service, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	st, _ := startTime(cmd.Process.Pid)
	p := Pidfile{
		Service: service, PID: cmd.Process.Pid, StartTime: st, Port: s.opts.Port(service),
		Version: s.opts.Version, Command: argv, StartedAt: s.opts.Now().UTC(), LogFile: logPath,
	}
	if err := s.writePidfile(&p); err != nil {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		return res, err
	}
	res.Pidfile = p

	if err := s.waitReady(ctx, service, p.PID, exited, timeout); err != nil {
		// A daemon that never became ready is not left half-running.
		if !errors.Is(err, errExited) {
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			<-exited
		}
		_ = s.removePidfile(service)
		tail := s.logTail(logPath, startOffset, 15)
		return res, &StartError{Service: service, Err: err, LogTail: tail, LogFile: logPath}
	}
	return res, nil
}

var (
	errExited    = errors.New("exited during start-up")
	errPortTaken = errors.New("port taken")
)

// StartError is a failed start, with the last lines the daemon logged.
type StartError struct {
	Service string
	Err     error
	LogFile string
	LogTail []string
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("start %s: %v", e.Service, e.Err)
	if len(e.LogTail) > 0 {
		msg += "; last lines of " + e.LogFile + ":\n    " + strings.Join(e.LogTail, "\n    ")
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }

func (s *Supervisor) waitReady(ctx context.Context, service string, pid int, exited <-chan error, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	url := s.opts.ReadyURL(service)
	for {
		code, body := s.get(ctx, url)
		if code == http.StatusOK {
			var r struct {
				PID int `json:"pid"`
			}
			if json.Unmarshal(body, &r) == nil && r.PID != 0 && r.PID != pid {
				return fmt.Errorf("%w: another process (pid %d) answers on %s; is the port taken?", errPortTaken, r.PID, url)
			}
			return nil
		}
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("exit status 0")
			}
			return fmt.Errorf("%w (%v)", errExited, err)
		case <-deadline.C:
			return fmt.Errorf("%w: %s did not answer 200 within %s", ErrNotReady, url, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// get returns the status code and body of GET url; 0 when it cannot be
// reached.
func (s *Supervisor) get(ctx context.Context, url string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, b
}

func (s *Supervisor) logTail(path string, from int64, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// StopResult says what Stop did.
type StopResult struct {
	WasRunning   bool
	Killed       bool // SIGTERM was not enough
	StaleRemoved *Pidfile
	Pidfile      Pidfile
}

// Stop sends SIGTERM to the service's process group, waits up to timeout
// for every process in it to exit, then sends SIGKILL.
func (s *Supervisor) Stop(ctx context.Context, service string, timeout time.Duration) (StopResult, error) {
	var res StopResult
	unlock, err := s.lock(service)
	if err != nil {
		return res, err
	}
	defer unlock()
	p, err := s.readPidfile(service)
	if err != nil || p == nil {
		return res, err
	}
	if !alive(p) {
		res.StaleRemoved = p
		return res, s.removePidfile(service)
	}
	res.WasRunning, res.Pidfile = true, *p
	pgid := p.PID // the daemon leads its own session and group
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return res, fmt.Errorf("signal %s (pid %d): %w", service, p.PID, err)
	}
	if !waitGone(ctx, pgid, timeout) {
		res.Killed = true
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if !waitGone(ctx, pgid, 5*time.Second) {
			return res, fmt.Errorf("stop %s: process group %d still alive after SIGKILL", service, pgid)
		}
	}
	return res, s.removePidfile(service)
}

// waitGone polls until no process is left in the group (zombies count as
// gone) or timeout passes.
func waitGone(ctx context.Context, pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if groupGone(pgid) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling other processes
	}
}

func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	// The leader may be a zombie whose parent has not reaped it yet, with
	// no other member left: that counts as gone.
	if _, err := startTime(pgid); errors.Is(err, errZombie) {
		return onlyZombies(pgid)
	}
	return false
}

// Status is the state of one service.
type Status struct {
	Service   string            `json:"service"`
	State     string            `json:"state"` // running, stopped, stale
	PID       int               `json:"pid,omitempty"`
	Port      int               `json:"port"`
	StartedAt *time.Time        `json:"started_at,omitempty"`
	Uptime    time.Duration     `json:"-"`
	UptimeSec int64             `json:"uptime_seconds,omitempty"`
	Health    string            `json:"health"` // healthy, unhealthy, unreachable, or "" when not running
	Checks    map[string]string `json:"checks,omitempty"`
	Version   string            `json:"version,omitempty"`
}

// Status reports whether service runs and, if so, its /health.
func (s *Supervisor) Status(ctx context.Context, service string) (Status, error) {
	st := Status{Service: service, State: "stopped", Port: s.opts.Port(service)}
	p, err := s.readPidfile(service)
	if err != nil {
		return st, err
	}
	if p == nil {
		return st, nil
	}
	if !alive(p) {
		st.State = "stale"
		return st, nil
	}
	st.State, st.PID, st.Version, st.Port = "running", p.PID, p.Version, p.Port
	started := p.StartedAt
	st.StartedAt = &started
	st.Uptime = s.opts.Now().Sub(p.StartedAt).Truncate(time.Second)
	st.UptimeSec = int64(st.Uptime / time.Second)
	st.Health, st.Checks = s.health(ctx, service)
	return st, nil
}

// CleanStale removes a stale pidfile and returns it, or nil.
func (s *Supervisor) CleanStale(service string) (*Pidfile, error) {
	unlock, err := s.lock(service)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := s.readPidfile(service)
	if err != nil || p == nil || alive(p) {
		return nil, err
	}
	return p, s.removePidfile(service)
}

func (s *Supervisor) health(ctx context.Context, service string) (string, map[string]string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.HealthURL(service), nil)
	if err != nil {
		return "unreachable", nil
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return "unreachable", nil
	}
	defer resp.Body.Close()
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&body)
	if resp.StatusCode == http.StatusOK && body.Status == "healthy" {
		return "healthy", body.Checks
	}
	return "unhealthy", body.Checks
}
