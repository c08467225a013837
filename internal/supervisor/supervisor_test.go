package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// The test binary doubles as the daemon under supervision: with
// SUPERVISOR_HELPER set it serves /ready and /health on SUPERVISOR_PORT.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SUPERVISOR_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "fatal: cannot open database: permission denied")
		return 1
	}
	ignoreTerm := mode == "ignore-term"
	if ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	// A child in the same process group, as a daemon's worker would be.
	child := exec.Command("sleep", "300")
	if err := child.Start(); err != nil {
		return 2
	}
	_ = os.WriteFile(os.Getenv("SUPERVISOR_CHILD_PIDFILE"), []byte(strconv.Itoa(child.Process.Pid)), 0o644)
	fmt.Println("helper up")
	if mode == "never-ready" {
		select {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"status":"healthy","version":"t","checks":{"redis":"embedded"}}`))
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("SUPERVISOR_PORT"), Handler: mux}
	if !ignoreTerm {
		go func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGTERM)
			<-c
			_ = child.Process.Kill()
			srv.Close()
		}()
	}
	_ = srv.ListenAndServe()
	return 0
}

type fixture struct {
	sup       *Supervisor
	dir       string
	childFile string
	port      int
}

func newFixture(t *testing.T, mode string) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	fx := &fixture{dir: dir, childFile: filepath.Join(dir, "child.pid"), port: port}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	fx.sup = New(Options{
		RunDir:    filepath.Join(dir, "run"),
		LogDir:    filepath.Join(dir, "logs"),
		Command:   func(string, string) []string { return []string{os.Args[0], "-test.run=^$"} },
		ReadyURL:  func(string) string { return base + "/ready" },
		HealthURL: func(string) string { return base + "/health" },
		Port:      func(string) int { return port },
		Version:   "test",
		Env: append(os.Environ(), "SUPERVISOR_HELPER="+mode, "SUPERVISOR_PORT="+strconv.Itoa(port),
			"SUPERVISOR_CHILD_PIDFILE="+fx.childFile),
	})
	t.Cleanup(func() {
		if p, _ := fx.sup.readPidfile("svc"); p != nil && alive(p) {
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		}
	})
	return fx
}

func (fx *fixture) childPID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fx.childFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	return pid
}

// processGone waits for pid to be gone: a SIGKILLed process runs on until
// the signal is delivered and stays a zombie until reaped, so checking
// once right after a stop fails on a busy machine.
func processGone(t *testing.T, pid int) bool {
	t.Helper()
	return testenv.WaitProcessGone(t, pid, 30*time.Second)
}

func TestStartStatusStop(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "serve")
	ctx := context.Background()
	res, err := fx.sup.Start(ctx, "svc", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pidfile
	if res.AlreadyRunning || p.PID <= 0 || p.Port != fx.port || p.Version != "test" || p.StartTime == 0 {
		t.Fatalf("pidfile = %+v", p)
	}
	if st, _ := startTime(p.PID); st != p.StartTime {
		t.Errorf("recorded start time %d, /proc says %d", p.StartTime, st)
	}
	again, err := fx.sup.Start(ctx, "svc", 20*time.Second)
	if err != nil || !again.AlreadyRunning || again.Pidfile.PID != p.PID {
		t.Errorf("second start = %+v, %v; want a no-op", again, err)
	}
	st, err := fx.sup.Status(ctx, "svc")
	if err != nil || st.State != "running" || st.Health != "healthy" || st.Checks["redis"] != "embedded" {
		t.Errorf("status = %+v, %v", st, err)
	}
	child := fx.childPID(t)
	stop, err := fx.sup.Stop(ctx, "svc", 20*time.Second)
	if err != nil || !stop.WasRunning || stop.Killed {
		t.Fatalf("stop = %+v, %v", stop, err)
	}
	if !processGone(t, p.PID) || !processGone(t, child) {
		t.Error("the daemon or its child survived stop")
	}
	if _, err := os.Stat(fx.sup.pidPath("svc")); !os.IsNotExist(err) {
		t.Error("pidfile left behind")
	}
	if st, _ := fx.sup.Status(ctx, "svc"); st.State != "stopped" {
		t.Errorf("status after stop = %s", st.State)
	}
	if res, err := fx.sup.Stop(ctx, "svc", time.Second); err != nil || res.WasRunning {
		t.Errorf("stopping a stopped service: %+v %v; want a no-op", res, err)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "ignore-term")
	ctx := context.Background()
	res, err := fx.sup.Start(ctx, "svc", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	child := fx.childPID(t)
	stop, err := fx.sup.Stop(ctx, "svc", 300*time.Millisecond)
	if err != nil || !stop.Killed {
		t.Fatalf("stop = %+v, %v; want killed after the timeout", stop, err)
	}
	if !processGone(t, res.Pidfile.PID) || !processGone(t, child) {
		t.Error("a process of the group survived SIGKILL")
	}
}

func TestStalePidfiles(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "serve")
	ctx := context.Background()
	if err := os.MkdirAll(fx.sup.opts.RunDir, 0o750); err != nil {
		t.Fatal(err)
	}

	// The pid is alive but belongs to another program (this test): the
	// start time differs. tarsctl must not signal it.
	me, _ := startTime(os.Getpid())
	reused := &Pidfile{Service: "svc", PID: os.Getpid(), StartTime: me + 12345}
	if err := fx.sup.writePidfile(reused); err != nil {
		t.Fatal(err)
	}
	if st, _ := fx.sup.Status(ctx, "svc"); st.State != "stale" {
		t.Errorf("status with a reused pid = %s, want stale", st.State)
	}
	res, err := fx.sup.Stop(ctx, "svc", time.Second)
	if err != nil || res.WasRunning || res.StaleRemoved == nil {
		t.Errorf("stop with a reused pid: %+v %v; want the stale pidfile removed and nothing signalled", res, err)
	}

	// The process is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := fx.sup.writePidfile(&Pidfile{Service: "svc", PID: gone.Process.Pid, StartTime: 1}); err != nil {
		t.Fatal(err)
	}
	start, err := fx.sup.Start(ctx, "svc", 20*time.Second)
	if err != nil || start.StaleRemoved == nil || start.AlreadyRunning {
		t.Fatalf("start over a stale pidfile: %+v %v", start, err)
	}
	if _, err := fx.sup.Stop(ctx, "svc", 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "crash")
	_, err := fx.sup.Start(context.Background(), "svc", 20*time.Second)
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "fatal: cannot open database: permission denied") {
		t.Fatalf("err = %v, want a StartError with the log's last lines", err)
	}
	if _, err := os.Stat(fx.sup.pidPath("svc")); !os.IsNotExist(err) {
		t.Error("a failed start left its pidfile")
	}
}

func TestStartNotReadyTimesOut(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "never-ready")
	_, err := fx.sup.Start(context.Background(), "svc", 500*time.Millisecond)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "helper up") {
		t.Fatalf("err = %v, want ErrNotReady with the log tail", err)
	}
	if !processGone(t, fx.childPID(t)) {
		t.Error("the never-ready daemon's process group was left running")
	}
}
