package hypersync

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var testSecret = []byte("hypersync-test-secret-0123456789abcdef")

func testGetenv(k string) string {
	if k == "TARS_JWT_SECRET" {
		return string(testSecret)
	}
	return ""
}

// testConfig is the local profile in a fresh home, with auth and RBAC on.
func testConfig(t testing.TB, mutate func(*config.Config)) *config.Config {
	t.Helper()
	res, err := config.Load(config.LoadOptions{Profile: "local", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	cfg.Auth.Enabled, cfg.Auth.RBAC = true, true
	cfg.Paths.Home = t.TempDir()
	cfg.LogLevel = "INFO"
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func token(t testing.TB, user, role string) string {
	t.Helper()
	s, err := auth.NewSigner(testSecret, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(user, role)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// syncBuffer is a log destination tests can read while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a daemon serving on 127.0.0.1.
type running struct {
	URL  string
	Addr string
	Logs *syncBuffer
	stop func() error
}

// Stop shuts the daemon down gracefully and returns Run's error.
func (r *running) Stop() error { return r.stop() }

// Listen binds 127.0.0.1:0, or addr when given (a restart on the same
// port).
func Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	return ln
}

// serve runs run (a daemon's Run) on ln until the test ends or Stop is
// called, and returns once the daemon is ready.
func serve(t testing.TB, ln net.Listener, logs *syncBuffer, run func(ctx context.Context, onReady func(net.Addr)) error) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(net.Addr) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon stopped before it was ready: %v\n%s", err, logs)
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), Logs: logs, stop: stop}
}

// startOrchestrator runs the real orchestration-agent daemon with cfg.
func startOrchestrator(t testing.TB, cfg *config.Config, ln net.Listener) *running {
	t.Helper()
	if ln == nil {
		ln = Listen(t, "")
	}
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: orchestrator.Service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return orchestrator.Run(ctx, orchestrator.RunOptions{Config: cfg, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady})
	})
}

// startHyperSync runs the real hypersync daemon with cfg, applying to the
// orchestrator at orchURL.
func startHyperSync(t testing.TB, cfg *config.Config, orchURL string) *running {
	t.Helper()
	c := *cfg
	c.Services.OrchestrationAgent.URL = orchURL
	ln := Listen(t, "")
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: Service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return Run(ctx, RunOptions{Config: &c, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady,
			MaxBackoff: 100 * time.Millisecond})
	})
}

type response struct {
	code int
	body map[string]any
	raw  string
}

func do(t testing.TB, method, url, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// decode re-decodes a response body into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.raw), v); err != nil {
		t.Fatalf("decode %q: %v", r.raw, err)
	}
}

// metric returns the lines of the daemon's /metrics that start with name.
func metric(t testing.TB, baseURL, name string) string {
	t.Helper()
	r := do(t, "GET", baseURL+"/metrics", "", nil)
	var out []string
	for _, l := range strings.Split(r.raw, "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
