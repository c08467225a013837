// Package daemontest runs the T.A.R.S. service daemons in-process for
// tests, the way net/http/httptest runs handlers: on 127.0.0.1, with their
// logs captured, stopped when the test ends. It also holds the small
// client helpers those tests share. Only tests import it.
package daemontest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
)

// Getenv returns an environment that holds only TARS_JWT_SECRET=secret.
func Getenv(secret []byte) func(string) string {
	return func(k string) string {
		if k == "TARS_JWT_SECRET" {
			return string(secret)
		}
		return ""
	}
}

// Config is the local profile in a fresh home, with auth and RBAC on and
// logging at INFO; mutate, when given, changes it further.
func Config(t testing.TB, mutate func(*config.Config)) *config.Config {
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

// Token issues an hour-long access token for user with role, signed with
// secret.
func Token(t testing.TB, secret []byte, user, role string) string {
	t.Helper()
	s, err := auth.NewSigner(secret, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(user, role)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// LogBuffer is a log destination a test can read while the daemon writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Daemon is a daemon serving on 127.0.0.1.
type Daemon struct {
	URL  string // http://ADDR
	Addr string
	Logs *LogBuffer
	stop func() error
}

// Stop shuts the daemon down gracefully and returns its Run's error.
func (d *Daemon) Stop() error { return d.stop() }

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

// Serve runs run (a daemon's Run) on ln until the test ends or Stop is
// called, and returns once the daemon is ready; a daemon that stops
// before it is ready fails the test with its logs.
func Serve(t testing.TB, ln net.Listener, logs *LogBuffer, run func(ctx context.Context, onReady func(net.Addr)) error) *Daemon {
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
	return &Daemon{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), Logs: logs, stop: stop}
}

// Response is a daemon's answer: status code, header, raw body, and the
// body decoded as a JSON object when it is one.
type Response struct {
	Code   int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Do sends method url with body as JSON (when not nil, with Content-Type
// application/json, as every client of the daemons does) and token as a
// bearer token (when not empty).
func Do(t testing.TB, method, url, token string, body any) Response {
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
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return Send(t, req)
}

// Send sends req as it is and reads the answer.
func Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL, err)
	}
	r := Response{Code: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Raw), v); err != nil {
		t.Fatalf("decode %q: %v", r.Raw, err)
	}
}

// Metric returns the lines of the daemon's /metrics that start with name.
func Metric(t testing.TB, baseURL, name string) string {
	t.Helper()
	r := Do(t, "GET", baseURL+"/metrics", "", nil)
	var out []string
	for _, l := range strings.Split(r.Raw, "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
