package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// pbNow is the fixed clock of the playbook tests; log lines are stamped
// relative to it.
var pbNow = time.Date(2026, 1, 2, 9, 0, 0, 0, time.Local)

// logLines writes a dashboard-api log in the daemon's text format, one
// line per message, a second apart, ending a minute before pbNow.
func logLines(t *testing.T, dir string, lines ...string) {
	t.Helper()
	var b strings.Builder
	start := pbNow.Add(-time.Minute - time.Duration(len(lines))*time.Second)
	for i, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", start.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"), l)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-api.log"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func repeat(n int, line string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line
	}
	return out
}

// idleProcess starts a real process that uses no CPU.
func idleProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func runPlaybook(t *testing.T, name string, src Sources) PlaybookReport {
	t.Helper()
	if src.Now == nil {
		src.Now = func() time.Time { return pbNow }
	}
	if src.Since == 0 {
		src.Since = time.Hour
	}
	src.ProcessSample = 20 * time.Millisecond
	rep := RunPlaybook(context.Background(), Playbooks()[name], src, 5*time.Second)
	if testing.Verbose() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("%s", b)
	}
	return rep
}

func cause(t *testing.T, rep PlaybookReport, row string) Cause {
	t.Helper()
	for _, c := range rep.Causes {
		if c.Row == row {
			return c
		}
	}
	t.Fatalf("no row %q in %s", row, rep.Playbook)
	return Cause{}
}

func wantCause(t *testing.T, rep PlaybookReport, row, verdict, reasonHas string) {
	t.Helper()
	c := cause(t, rep, row)
	if c.Verdict != verdict || !strings.Contains(c.Reason, reasonHas) {
		t.Errorf("%s / %s: %s %q; want %s with reason containing %q", rep.Playbook, row, c.Verdict, c.Reason, verdict, reasonHas)
	}
}

func wantStep(t *testing.T, rep PlaybookReport, name, status, valueHas string) {
	t.Helper()
	for _, r := range rep.Steps {
		if r.Check == name {
			if r.Status != status || !strings.Contains(r.Value, valueHas) {
				t.Errorf("step %s: %s %q; want %s with %q", name, r.Status, r.Value, status, valueHas)
			}
			return
		}
	}
	t.Errorf("no step %s in %s", name, rep.Playbook)
}

func wantNext(t *testing.T, rep PlaybookReport, cmd string) {
	t.Helper()
	for _, c := range rep.Next {
		if c.Command == cmd {
			return
		}
	}
	t.Errorf("next steps lack %q: %+v", cmd, rep.Next)
}

func TestPlaybookHighLatency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := repeat(90, "INFO [dashboard-api] GET /api/agents 200 OK duration=12.5ms request_id=a")
	lines = append(lines, repeat(10, "INFO [dashboard-api] GET /api/agents 200 OK duration=1850.25ms request_id=b")...)
	lines = append(lines, repeat(25, `WARNING [dashboard-api] rate_limit_exceeded scope=api ip=203.0.113.9 limit=100`)...)
	lines = append(lines, repeat(50, "DEBUG [dashboard-api] GET /health 200 OK duration=9999ms")...) // probes do not count
	logLines(t, dir, lines...)
	pid := idleProcess(t)
	rep := runPlaybook(t, "high-latency", Sources{
		LogDir: dir,
		Redis:  &redisconn.Endpoint{Addrs: []string{closedAddr(t)}}, // Redis stopped: the slow dependency
		Service: func(context.Context, string) (ServiceState, error) {
			return ServiceState{State: "running", PID: pid, Health: "healthy"}, nil
		},
	})
	if rep.Status != RootCauseFound {
		t.Errorf("status %s, want %s", rep.Status, RootCauseFound)
	}
	wantStep(t, rep, "slow-requests", Fail, "p99 1.85s over 100 requests")
	wantStep(t, rep, "slow-requests", Fail, "slowest: GET /api/agents 200 1.85s")
	wantStep(t, rep, "resources", OK, fmt.Sprintf("pid %d: CPU 0%%", pid))
	wantStep(t, rep, "redis", Fail, "connection refused")
	wantCause(t, rep, "High CPU (>80%)", NotSupported, "at 0% CPU")
	wantCause(t, rep, "High Memory (>4GB)", NotSupported, "resident memory")
	wantCause(t, rep, "Low CPU/Memory", Supported, "redis fail")
	wantCause(t, rep, "Intermittent spikes", Supported, "25 rate_limit_exceeded lines")
	wantCause(t, rep, "Intermittent spikes", Supported, "spiky latency: p50 12ms but p99 1.85s")
	// Supported rows' commands come first.
	if rep.Next[0].Command != "tarsctl triage run --check redis --check postgres" {
		t.Errorf("first next step %q", rep.Next[0].Command)
	}
	wantNext(t, rep, "tarsctl triage ratelimit show")
	wantNext(t, rep, "tarsctl scale dashboard-api --replicas 5 -n tars-prod")
}

// TestPlaybookHighLatencyMetrics serves a real Prometheus histogram with
// the daemons' name, labels and buckets.
func TestPlaybookHighLatencyMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "x",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "code"})
	reg.MustRegister(h)
	for range 80 {
		h.WithLabelValues("GET", "GET /api/agents", "200").Observe(0.02)
	}
	for range 20 {
		h.WithLabelValues("POST", "POST /api/agents/{id}/train", "200").Observe(1.7)
	}
	for range 1000 {
		h.WithLabelValues("GET", "GET /health", "200").Observe(0.0005)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"healthy"}`)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rep := runPlaybook(t, "high-latency", Sources{APIURL: srv.URL})
	// 20% of requests in the (1s, 2.5s] bucket: p95 interpolates to 2.125s.
	wantStep(t, rep, "metrics", Fail, "p95 2.12s")
	wantStep(t, rep, "metrics", Fail, "over 100 requests since dashboard-api started")
	wantStep(t, rep, "api-latency", OK, "200 OK")
	wantCause(t, rep, "High CPU (>80%)", Unknown, "CPU not measured")
	wantCause(t, rep, "Intermittent spikes", Supported, "spiky latency")
}

func TestPlaybookAnomaly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := repeat(90, "INFO [dashboard-api] GET /api/agents 200 OK duration=3ms")
	lines = append(lines, repeat(10, "ERROR [dashboard-api] GET /api/agents 502 Bad Gateway duration=4ms")...)
	lines = append(lines, repeat(3, "ERROR [dashboard-api] database connection lost: connection refused")...)
	lines = append(lines, "WARNING [insight-engine] ANOMALY detected metric=latency z=4.2")
	logLines(t, dir, lines...)
	rep := runPlaybook(t, "anomaly", Sources{LogDir: dir})
	if rep.Status != RootCauseFound {
		t.Errorf("status %s", rep.Status)
	}
	wantStep(t, rep, "anomaly-log", Warn, "anomaly=1")
	wantCause(t, rep, "Error rate increase", Supported, "10 of 100 requests answered 5xx (10.0%)")
	wantCause(t, rep, "Error rate increase", Supported, "3 db_errors")
	wantCause(t, rep, "Latency spike", NotSupported, "p95 4.0ms")
	wantCause(t, rep, "Traffic pattern change", NotSupported, "0 rate_limit_exceeded")
	wantCause(t, rep, "Data drift", Unknown, "no drift evidence")
	wantNext(t, rep, "tarsctl logs dashboard-api --since 1h --grep 'ERROR| 5[0-9][0-9] '")
	wantNext(t, rep, "tarsctl deploy k8s rollback -n tars-prod")
}

func TestPlaybookKPIRegression(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := repeat(995, "INFO [dashboard-api] GET /api/agents 200 OK duration=40ms")
	lines = append(lines, repeat(5, "ERROR [dashboard-api] GET /api/agents 500 Internal Server Error duration=41ms")...)
	logLines(t, dir, lines...)
	states := map[string]ServiceState{
		"dashboard-api":       {State: "running", PID: 1, Health: "healthy", Uptime: 12 * time.Minute},
		"orchestration-agent": {State: "stale"},
	}
	rep := runPlaybook(t, "kpi-regression", Sources{LogDir: dir, Services: []string{"dashboard-api", "orchestration-agent"},
		Service: func(_ context.Context, n string) (ServiceState, error) { return states[n], nil }})
	wantStep(t, rep, "services", Fail, "dashboard-api up 12m, orchestration-agent stale")
	wantCause(t, rep, "Availability < 99.9%", Supported, "99.50% of 1000 requests succeeded (5 5xx)")
	wantCause(t, rep, "p95 latency ≥ 200ms", NotSupported, "p95 40ms")
	wantCause(t, rep, "Affected services", Supported, "orchestration-agent stale")
	wantCause(t, rep, "Deployment changes", Supported, "dashboard-api (re)started 12m ago")
	wantCause(t, rep, "External factors", NotSupported, "no dependency failure in the logs")
	wantNext(t, rep, "tarsctl restart SERVICE")
	wantNext(t, rep, "tarsctl status")
}

// securityEvidence writes the security test's log and audit log: a burst
// of 401s and rate limits, failed logins from one IP and a refresh-token
// replay.
func securityEvidence(t *testing.T, dir string) string {
	t.Helper()
	lines := repeat(30, "INFO [dashboard-api] GET /api/agents 401 Unauthorized duration=0.8ms")
	lines = append(lines, repeat(25, "WARNING [dashboard-api] rate_limit_exceeded scope=login ip=203.0.113.9 limit=10")...)
	logLines(t, dir, lines...)
	var b strings.Builder
	ev := func(at time.Time, event, ip, outcome string) {
		fmt.Fprintf(&b, `{"time":%q,"event":%q,"ip":%q,"outcome":%q}`+"\n", at.UTC().Format(time.RFC3339Nano), event, ip, outcome)
	}
	ev(pbNow.Add(-3*time.Hour), "login_failure", "198.51.100.1", "denied") // outside the window
	for i := range 24 {
		ev(pbNow.Add(-30*time.Minute+time.Duration(i)*time.Second), "login_failure", "203.0.113.9", "denied")
	}
	ev(pbNow.Add(-20*time.Minute), "login_failure", "198.51.100.7", "denied")
	ev(pbNow.Add(-10*time.Minute), "refresh_reuse_detected", "198.51.100.7", "denied")
	ev(pbNow.Add(-9*time.Minute), "access_denied", "198.51.100.7", "unauthorized")
	path := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlaybookSecurity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	audit := securityEvidence(t, dir)
	srv := testenv.SharedRedis(t)
	opts := redisconn.Endpoint{Addrs: []string{srv.Addr}, DB: 9}
	c, err := NewRedisClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := fmt.Sprintf("rate_limit:203.0.113.%d", time.Now().UnixNano()%250)
	refresh := fmt.Sprintf("refresh:test-%d", time.Now().UnixNano())
	if err := c.Set(ctx, key, 150, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, refresh, "record", `{"family":"f1","expires":"2099-01-01T00:00:00Z"}`).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Del(context.Background(), key, refresh); c.Close() })

	rep := runPlaybook(t, "security", Sources{LogDir: dir, AuditFile: audit, Redis: &opts, RateLimit: 100})
	if rep.Status != RootCauseFound {
		t.Errorf("status %s", rep.Status)
	}
	wantStep(t, rep, "auth-log", Warn, "401=30 rate_limited=25")
	wantStep(t, rep, "audit", Warn, "login_failure=25 access_denied=1 refresh_reuse_detected=1")
	wantStep(t, rep, "audit", Warn, "top IP 203.0.113.9 (24 failures)")
	wantStep(t, rep, "rate-limits", Warn, key+"=150")
	wantStep(t, rep, "sessions", OK, "1 session")
	wantCause(t, rep, "Compromised credentials", Supported, "1 refresh token reuse")
	wantCause(t, rep, "Compromised credentials", Supported, "25 failed logins, most from 203.0.113.9 (24)")
	wantCause(t, rep, "DDoS attack", Supported, "25 rate_limit_exceeded lines in the last 1h")
	wantCause(t, rep, "DDoS attack", Supported, key+" at 150 requests this minute")
	wantCause(t, rep, "CVE in dependency", Unknown, "trivy")
	wantCause(t, rep, "Data breach", NotSupported, "1 requests denied")
	if rep.Next[0].Command != "tarsctl triage sessions revoke-all --yes" {
		t.Errorf("first next step %q", rep.Next[0].Command)
	}
	wantNext(t, rep, "tarsctl triage ratelimit show")
	// The sessions step only counts: the token is still there.
	if n, err := c.Exists(ctx, refresh).Result(); err != nil || n != 1 {
		t.Errorf("refresh token gone after the playbook: %d %v", n, err)
	}
}

func TestPlaybookSecurityQuiet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logLines(t, dir, repeat(5, "INFO [dashboard-api] GET /api/agents 200 OK duration=3ms")...)
	rep := runPlaybook(t, "security", Sources{LogDir: dir, AuditFile: filepath.Join(dir, "audit.log")})
	if rep.Status != NoRootCause {
		t.Errorf("status %s, want %s", rep.Status, NoRootCause)
	}
	wantStep(t, rep, "audit", Warn, "no audit log at")
	wantCause(t, rep, "Compromised credentials", Unknown, "no audit log at")
	wantCause(t, rep, "DDoS attack", NotSupported, "0 rate_limit_exceeded, 0 401 Unauthorized")
}

func TestPlaybookNothingReached(t *testing.T) {
	t.Parallel()
	rep := runPlaybook(t, "high-latency", Sources{APIURL: "http://" + closedAddr(t),
		Service: func(context.Context, string) (ServiceState, error) { return ServiceState{State: "stopped"}, nil }})
	if rep.Status != NothingReached {
		t.Fatalf("status %s, want %s: %+v", rep.Status, NothingReached, rep.Causes)
	}
}

func TestHistogramQuantile(t *testing.T) {
	t.Parallel()
	b := map[float64]float64{0.1: 50, 0.2: 90, 0.5: 100}
	for _, tc := range []struct{ q, want float64 }{{0.5, 0.1}, {0.7, 0.15}, {0.95, 0.35}} {
		if got := histogramQuantile(tc.q, b); fmt.Sprintf("%.4f", got) != fmt.Sprintf("%.4f", tc.want) {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	if _, err := ParseLatencyMetrics("<html>not metrics</html>\n"); !errors.Is(err, ErrNoMetrics) {
		t.Errorf("not Prometheus text: err = %v, want ErrNoMetrics", err)
	}
	// A daemon that has served only probes: its histogram holds only probe
	// routes, or no series at all yet. Zero requests, not an error.
	for _, text := range []string{
		"# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 9\n",
		"# TYPE http_request_duration_seconds histogram\n" +
			`http_request_duration_seconds_bucket{code="200",method="GET",route="/health",le="+Inf"} 4` + "\n" +
			`http_request_duration_seconds_count{code="200",method="GET",route="/health"} 4` + "\n",
	} {
		l, err := ParseLatencyMetrics(text)
		if err != nil || l.Requests != 0 || l.Source != "metrics" {
			t.Errorf("probes only: %+v, %v; want zero requests and no error", l, err)
		}
	}
}
