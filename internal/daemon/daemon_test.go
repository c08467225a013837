package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
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

type running struct {
	url    string
	cancel context.CancelFunc
	force  chan struct{}
	done   chan error
	logs   *syncBuffer
}

// start runs a daemon on 127.0.0.1:0 and returns once it is ready.
func start(t *testing.T, opts Options) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, force: make(chan struct{}), done: make(chan error, 1), logs: &syncBuffer{}}
	opts.Listener = ln
	opts.Force = r.force
	if opts.Logger == nil {
		opts.Logger = NewLogger(r.logs, LogOptions{Service: "test-svc", Version: "1.2.3", Format: "text", Level: "DEBUG"})
	}
	if opts.Service == "" {
		opts.Service, opts.Version = "test-svc", "1.2.3"
	}
	readyCh := make(chan struct{})
	opts.OnReady = func(net.Addr) { close(readyCh) }
	go func() { r.done <- Run(ctx, opts) }()
	select {
	case <-readyCh:
	case err := <-r.done:
		t.Fatalf("daemon exited before ready: %v", err)
	}
	r.url = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	return r
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthJSON(t *testing.T) {
	t.Parallel()
	var redisDown atomic.Bool
	r := start(t, Options{Checks: []Check{
		{Name: "redis", Run: func(context.Context) (string, error) {
			if redisDown.Load() {
				return "", errors.New("Redis connection timeout")
			}
			return StatusEmbedded, nil
		}},
		{Name: "database", Run: func(context.Context) (string, error) { return StatusOK, nil }},
		DiskSpaceCheck(t.TempDir(), 1),
	}})
	code, body := get(t, r.url+"/health")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["status"] != "healthy" || rep["version"] != "1.2.3" {
		t.Errorf("report = %v", rep)
	}
	if _, err := time.Parse(time.RFC3339, rep["timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	checks := rep["checks"].(map[string]any)
	want := map[string]any{"redis": "embedded", "database": "ok", "disk_space": "ok"}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("checks[%s] = %v, want %v", k, checks[k], v)
		}
	}
	if _, ok := rep["errors"]; ok {
		t.Errorf("healthy report has errors: %v", rep["errors"])
	}
}

func TestHealthUnhealthyAndCached(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	h := &health{
		version: "v", timeout: time.Second, ttl: time.Second,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		checks: []Check{{Name: "redis", Run: func(context.Context) (string, error) {
			calls.Add(1)
			return "", errors.New("Redis connection timeout")
		}}},
	}
	rep := h.report(context.Background())
	if rep.Healthy() || rep.Checks["redis"] != "error" || len(rep.Errors) != 1 || rep.Errors[0] != "Redis connection timeout" {
		t.Errorf("report = %+v", rep)
	}
	h.report(context.Background())
	if calls.Load() != 1 {
		t.Errorf("check ran %d times within the cache TTL, want 1", calls.Load())
	}
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	h.report(context.Background())
	if calls.Load() != 2 {
		t.Errorf("check ran %d times after the TTL, want 2", calls.Load())
	}

	// Over HTTP: 503.
	r := start(t, Options{Checks: h.checks})
	if code, _ := get(t, r.url+"/health"); code != http.StatusServiceUnavailable {
		t.Errorf("unhealthy /health = %d, want 503", code)
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	t.Parallel()
	h := &health{version: "v", timeout: 50 * time.Millisecond, ttl: time.Second, now: time.Now,
		checks: []Check{{Name: "database", Run: func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}}}}
	rep := h.report(context.Background())
	if rep.Checks["database"] != "error" || !strings.Contains(rep.Errors[0], "database check timed out") {
		t.Errorf("report = %+v", rep)
	}
}

func TestReadyLifecycleAndGracefulDrain(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})
	r := start(t, Options{Handler: mux, DrainTimeout: 10 * time.Second})

	if code, _ := get(t, r.url+"/ready"); code != 200 {
		t.Fatalf("/ready = %d while serving, want 200", code)
	}

	const n = 5
	results := make(chan string, n)
	for range n {
		go func() {
			resp, err := http.Get(r.url + "/slow")
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results <- string(b)
		}()
	}
	for range n {
		<-started
	}
	r.cancel() // SIGTERM
	// The listener closes: new connections are refused soon after.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(r.url, "http://"), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond) // polling the listener, not synchronising goroutines
	}
	close(release)
	for range n {
		if got := <-results; got != "done" {
			t.Errorf("in-flight request got %q, want done", got)
		}
	}
	if err := <-r.done; err != nil {
		t.Errorf("Run = %v, want nil after a clean drain", err)
	}
	r.done <- nil // for the cleanup
}

func TestForceStop(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	r := start(t, Options{Handler: mux, DrainTimeout: time.Minute})
	go func() {
		resp, err := http.Get(r.url + "/hang")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	r.cancel()
	close(r.force)
	if err := <-r.done; !errors.Is(err, ErrForced) {
		t.Errorf("Run = %v, want ErrForced", err)
	}
	r.done <- nil
}

func TestReadyStates(t *testing.T) {
	t.Parallel()
	rd := &readiness{}
	for _, tc := range []struct {
		state int32
		code  int
	}{{NotReady, 503}, {Ready, 200}, {Stopping, 503}} {
		rd.state.Store(tc.state)
		rec := &recorder{header: http.Header{}}
		rd.ServeHTTP(rec, nil)
		if rec.code != tc.code {
			t.Errorf("state %d: /ready = %d, want %d", tc.state, rec.code, tc.code)
		}
	}
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(c int)           { r.code = c }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func TestMetricsAccessLogAndPanic(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	r := start(t, Options{Handler: mux})

	if code, _ := get(t, r.url+"/api/agents/42"); code != 401 {
		t.Fatalf("status %d", code)
	}
	if code, body := get(t, r.url+"/boom"); code != 500 || !strings.Contains(body, `"error":"Internal Server Error"`) || !strings.Contains(body, `"message":"the request failed; the daemon's log has the details under request_id `) {
		t.Errorf("panic: status %d body %q, want 500", code, body)
	}
	_, metrics := get(t, r.url+"/metrics")
	for _, want := range []string{
		`http_request_duration_seconds_count{code="401",method="GET",route="GET /api/agents/{id}"} 1`,
		`http_request_duration_seconds_count{code="500",method="GET",route="GET /boom"} 1`,
		"http_requests_in_flight",
		`tars_build_info{goversion=`,
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	logs := r.logs.String()
	for _, want := range []string{"INFO [test-svc] GET /api/agents/42 401 Unauthorized duration=", "ERROR [test-svc] panic serving request", "panic=kaboom"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestLoggerFormats(t *testing.T) {
	t.Parallel()
	var text, js bytes.Buffer
	NewLogger(&text, LogOptions{Service: "dashboard-api", Version: "1.0.2", Format: "text", Level: "INFO"}).
		Info("Starting API server on 0.0.0.0:3001", "tls", false)
	line := text.String()
	if !strings.Contains(line, " INFO [dashboard-api] Starting API server on 0.0.0.0:3001 tls=false\n") {
		t.Errorf("text line = %q", line)
	}
	if _, err := time.Parse("2006-01-02 15:04:05", line[:19]); err != nil {
		t.Errorf("text line does not start with the runbook's timestamp: %q", line)
	}

	lg := NewLogger(&js, LogOptions{Service: "dashboard-api", Version: "1.0.2", Format: "json", Level: "WARNING"})
	lg.Info("dropped below level")
	lg.Warn("rate_limit_exceeded", "ip", "10.0.0.1", "wait", 3*time.Second)
	var rec struct {
		Timestamp, Level, Service, Message string
		Context                            map[string]any
	}
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatalf("json line %q: %v", js.String(), err)
	}
	if rec.Level != "WARNING" || rec.Service != "dashboard-api" || rec.Message != "rate_limit_exceeded" {
		t.Errorf("record = %+v", rec)
	}
	for _, k := range []string{"pid", "hostname", "version", "ip"} {
		if _, ok := rec.Context[k]; !ok {
			t.Errorf("context lacks %q: %v", k, rec.Context)
		}
	}
	if rec.Context["wait"] != "3s" {
		t.Errorf("duration rendered as %v", rec.Context["wait"])
	}
}
