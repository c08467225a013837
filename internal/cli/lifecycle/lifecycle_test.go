package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// stack is one local T.A.R.S. home with its own ports.
type stack struct {
	t    *testing.T
	bin  string
	home string
	args []string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	bin := testenv.Tarsctl(t)
	s := &stack{t: t, bin: bin, home: t.TempDir()}
	s.args = []string{"--profile", "local", "--set", "paths.home=" + s.home}
	// A free port for every daemon of the catalog.
	for _, e := range services.All() {
		s.args = append(s.args, "--set", fmt.Sprintf("%s=%d", e.PortConfigKey(), testenv.FreePort(t)))
	}
	t.Cleanup(func() { s.run("stop", "--all", "--timeout", "5s") })
	return s
}

// run runs tarsctl and returns its exit code, stdout and stderr.
func (s *stack) run(args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Env = append(os.Environ(), "HOME="+s.home, "NO_COLOR=1")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

type statusRow struct {
	Service string `json:"service"`
	State   string `json:"state"`
	PID     int    `json:"pid"`
	Health  string `json:"health"`
}

func (s *stack) status(args ...string) (int, map[string]statusRow) {
	s.t.Helper()
	code, out, errOut := s.run(append([]string{"status", "-o", "json"}, args...)...)
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		s.t.Fatalf("status -o json: %v\n%s\n%s", err, out, errOut)
	}
	m := map[string]statusRow{}
	for _, r := range rows {
		m[r.Service] = r
	}
	return code, m
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code, _, errOut := s.run("start", "--all")
	if code != 0 {
		t.Fatalf("start --all: exit %d\n%s", code, errOut)
	}
	for _, svc := range services.Names() {
		if !strings.Contains(errOut, "✓ Started "+svc) {
			t.Errorf("start --all did not report %s:\n%s", svc, errOut)
		}
	}
	code, st := s.status()
	if code != 0 {
		t.Fatalf("status after start --all: exit %d: %+v", code, st)
	}
	for _, svc := range services.Names() {
		if st[svc].State != "running" || st[svc].Health != "healthy" {
			t.Errorf("%s: %+v", svc, st[svc])
		}
	}

	// Starting a running service is a no-op that says so.
	code, _, errOut = s.run("start", "dashboard-api")
	if code != 0 || !strings.Contains(errOut, "dashboard-api is already running (pid ") {
		t.Errorf("second start: exit %d\n%s", code, errOut)
	}

	// Stop one: status fails for it, and only it.
	code, _, errOut = s.run("stop", "dashboard-api")
	if code != 0 || !strings.Contains(errOut, "✓ Stopped dashboard-api") {
		t.Fatalf("stop: exit %d\n%s", code, errOut)
	}
	code, st = s.status()
	if code != 1 || st["dashboard-api"].State != "stopped" {
		t.Errorf("status with dashboard-api stopped: exit %d, %+v; want exit 1", code, st["dashboard-api"])
	}
	if _, err := os.Stat(filepath.Join(s.home, "run", "dashboard-api.pid")); !os.IsNotExist(err) {
		t.Error("stop left the pidfile")
	}

	// Restart brings it back with a new pid.
	code, _, errOut = s.run("start", "dashboard-api")
	if code != 0 {
		t.Fatalf("start again: %s", errOut)
	}
	_, before := s.status("dashboard-api")
	code, out, errOut := s.run("restart", "dashboard-api", "-o", "json")
	if code != 0 {
		t.Fatalf("restart: exit %d\n%s", code, errOut)
	}
	code, after := s.status("dashboard-api")
	if code != 0 || after["dashboard-api"].PID == before["dashboard-api"].PID {
		t.Errorf("restart: exit %d, pid %d → %d", code, before["dashboard-api"].PID, after["dashboard-api"].PID)
	}
	var restarted []restartJSON
	if err := json.Unmarshal([]byte(out), &restarted); err != nil {
		t.Fatalf("restart -o json: %v\n%q", err, out)
	}
	if len(restarted) != 1 || restarted[0].Service != "dashboard-api" || !restarted[0].Stopped.WasRunning ||
		restarted[0].Stopped.PID != before["dashboard-api"].PID || restarted[0].Started.PID != after["dashboard-api"].PID {
		t.Errorf("restart -o json = %+v; want dashboard-api stopped at pid %d and started at pid %d", restarted, before["dashboard-api"].PID, after["dashboard-api"].PID)
	}

	// health and logs.
	if code, out, _ := s.run("health", "dashboard-api"); code != 0 || !strings.Contains(out, "redis\tembedded") {
		t.Errorf("health: exit %d\n%s", code, out)
	}
	if code, out, _ := s.run("logs", "dashboard-api", "--grep", "Starting API server"); code != 0 || strings.Count(out, "Starting API server") < 2 {
		t.Errorf("logs --grep: exit %d\n%s", code, out)
	}

	code, _, errOut = s.run("stop", "--all")
	if code != 0 {
		t.Fatalf("stop --all: %s", errOut)
	}
	if code, _, _ := s.run("health", "dashboard-api"); code != 3 {
		t.Errorf("health of a stopped service: exit %d, want 3", code)
	}
}

func TestStalePidfileCleaned(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	run := filepath.Join(s.home, "run")
	if err := os.MkdirAll(run, 0o750); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf(`{"service":"dashboard-api","pid":%d,"start_time":1,"port":1}`, dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(run, "dashboard-api.pid"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	code, st := s.status("dashboard-api")
	if code != 1 || st["dashboard-api"].State != "stale" {
		t.Errorf("status with a stale pidfile: exit %d %+v", code, st)
	}
	code, _, errOut := s.run("start", "dashboard-api")
	if code != 0 || !strings.Contains(errOut, "removed a stale pidfile") || !strings.Contains(errOut, "✓ Started dashboard-api") {
		t.Errorf("start over a stale pidfile: exit %d\n%s", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, args := range [][]string{{"start"}, {"start", "nope"}, {"start", "--all", "dashboard-api"}, {"logs", "dashboard-api", "--grep", "("}} {
		if code, _, errOut := s.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}
