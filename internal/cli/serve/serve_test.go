package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type daemonProc struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

// startDaemon runs `tarsctl serve dashboard-api` on a free port with the
// local profile in a fresh home, and waits for /ready.
func startDaemon(t *testing.T, extra ...string) *daemonProc {
	t.Helper()
	return startService(t, "dashboard-api", extra...)
}

// startService runs `tarsctl serve SERVICE` as startDaemon does.
func startService(t *testing.T, service string, extra ...string) *daemonProc {
	t.Helper()
	bin := testenv.Tarsctl(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	home := t.TempDir()
	args := append([]string{"serve", service, "--profile", "local", "--port", strconv.Itoa(port),
		"--set", "paths.home=" + home}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	p := &daemonProc{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 30s; logs:\n%s", p.Logs())
		}
		select {
		case err := <-p.done:
			t.Fatalf("daemon exited: %v; logs:\n%s", err, p.Logs())
		case <-time.After(50 * time.Millisecond): // polling an external process
		}
	}
}

func (p *daemonProc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *daemonProc) inFlight(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^http_requests_in_flight (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no http_requests_in_flight in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n - 1 // this /metrics request
}

func TestStartupLogLines(t *testing.T) {
	t.Parallel()
	p := startDaemon(t)
	logs := p.Logs()
	for _, want := range []string{
		"INFO [dashboard-api] Starting API server on " + p.addr,
		"INFO [dashboard-api] Rate limiting enabled (100 req/min)",
		"Created the initial admin user; its password is in ",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up logs lack %q:\n%s", want, logs)
		}
	}
	resp, err := http.Get("http://" + p.addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"status":"healthy"`, `"redis":"embedded"`, `"database":"embedded"`, `"disk_space":"ok"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/health = %s, lacks %s", b, want)
		}
	}
}

// TestGracefulShutdownUnderLoad sends SIGTERM while 200 requests are in
// flight: each completes with 200, none is reset, and the process exits 0.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	p := startDaemon(t, "--set", "rate_limiting.requests_per_minute=100000")
	const n = 200
	body := `{"id":"agent-%d","name":"agent %d","type":"dqn"}`
	conns := make([]net.Conn, n)
	rest := make([]string, n)
	for i := range n {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b := fmt.Sprintf(body, i, i)
		half := len(b) / 2
		// Headers and half the body: the handler is running, waiting for
		// the rest — a slow client, in flight.
		fmt.Fprintf(c, "POST /api/agents HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", p.addr, len(b), b[:half])
		conns[i], rest[i] = c, b[half:]
	}
	deadline := time.Now().Add(20 * time.Second)
	for p.inFlight(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests in flight", p.inFlight(t), n)
		}
		time.Sleep(20 * time.Millisecond) // polling an external process
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutdown has begun once new connections are refused.
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := conns[i]
			if _, err := io.WriteString(c, rest[i]); err != nil {
				errs[i] = err
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || codes[i] != 200 {
			t.Errorf("request %d: status %d, error %v", i, codes[i], errs[i])
		}
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit: %v, want status 0; logs:\n%s", err, p.Logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit after the drain")
	}
	if !strings.Contains(p.Logs(), "Shutdown complete") {
		t.Errorf("logs lack the shutdown line:\n%s", p.Logs())
	}
}

func TestServeRefusesMissingSecretOutsideLocal(t *testing.T) {
	t.Parallel()
	bin := testenv.Tarsctl(t)
	home := t.TempDir()
	cmd := exec.CommandContext(context.Background(), bin, "serve", "dashboard-api", "--profile", "docker",
		"--set", "paths.home="+home, "--set", "redis.enabled=false", "--set", "database.driver=sqlite")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "no JWT secret configured for the docker profile") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
}
