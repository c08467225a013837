package triage

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type stack struct {
	t    *testing.T
	bin  string
	home string
	args []string
	env  []string
}

func newStack(t *testing.T, extra ...string) *stack {
	t.Helper()
	bin := testenv.Tarsctl(t)
	s := &stack{t: t, bin: bin, home: t.TempDir()}
	s.args = append([]string{"--profile", "local",
		"--set", "paths.home=" + s.home,
		"--set", fmt.Sprintf("api.port=%d", testenv.FreePort(t)),
		"--set", fmt.Sprintf("services.orchestration_agent.port=%d", testenv.FreePort(t)),
		"--set", fmt.Sprintf("services.hypersync.port=%d", testenv.FreePort(t)),
	}, extra...)
	t.Cleanup(func() { s.run("stop", "--all", "--timeout", "5s") })
	return s
}

func (s *stack) run(args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Env = append(append(os.Environ(), "HOME="+s.home, "NO_COLOR=1"), s.env...)
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

type checkJSON struct {
	Check, Status, Value, Hint string
}

func (s *stack) triage(args ...string) (int, map[string]checkJSON, string) {
	s.t.Helper()
	code, out, errOut := s.run(append([]string{"triage", "run", "-o", "json"}, args...)...)
	var rep struct {
		Status string
		Checks []checkJSON
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		s.t.Fatalf("triage -o json: %v\n%s\n%s", err, out, errOut)
	}
	m := map[string]checkJSON{}
	for _, c := range rep.Checks {
		m[c.Check] = c
	}
	return code, m, out + errOut
}

// TestDaemonKilled starts the local stack, checks it is healthy, kills the
// daemon so that its pidfile goes stale, and checks the verdict and hint.
func TestDaemonKilled(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	if code, out, errOut := s.run("start", "--all"); code != 0 {
		t.Fatalf("start: %d\n%s%s", code, out, errOut)
	}
	start := time.Now()
	code, res, out := s.triage()
	t.Logf("healthy triage took %s", time.Since(start))
	if code != 0 || res["service/dashboard-api"].Status != "ok" || res["api-latency"].Status != "ok" {
		t.Fatalf("healthy stack: exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(s.home, "run", "dashboard-api.pid"))
	if err != nil {
		t.Fatalf("read pidfile: %v", err)
	}
	var pf struct{ PID int }
	if err := json.Unmarshal(b, &pf); err != nil || pf.PID <= 0 {
		t.Fatalf("pidfile %s: %v", b, err)
	}
	p, _ := os.FindProcess(pf.PID)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The daemon is our grandchild's child; wait until it is gone (a
	// zombie not yet reaped counts as gone, as it does for the supervisor).
	if !testenv.WaitProcessGone(t, pf.PID, 30*time.Second) {
		t.Fatalf("pid %d still runs 30s after SIGKILL", pf.PID)
	}
	code, res, out = s.triage("--check", "service", "--check", "api-latency")
	svc := res["service/dashboard-api"]
	if code != 1 || svc.Status != "fail" || !strings.Contains(svc.Value, "stale pidfile") || !strings.Contains(svc.Hint, "tarsctl start dashboard-api") {
		t.Fatalf("killed daemon: exit %d\n%s", code, out)
	}
	if res["api-latency"].Status != "fail" || !strings.Contains(res["api-latency"].Value, "refused") {
		t.Fatalf("api-latency after kill:\n%s", out)
	}
}

func TestNotRunningAndSecretsHidden(t *testing.T) {
	t.Parallel()
	dead := testenv.FreePort(t)
	const redisPw, pgPw, jwtSecret = "PlantedRedisPw9931", "PlantedPgPw7719", "PlantedJWTSecret-0123456789abcdef"
	s := newStack(t,
		"--set", "redis.enabled=true", "--set", "redis.host=127.0.0.1", "--set", fmt.Sprintf("redis.port=%d", dead),
		"--set", "redis.password="+redisPw,
		"--set", fmt.Sprintf("database.url=postgres://tars:%s@127.0.0.1:%d/tars?sslmode=disable", pgPw, dead),
	)
	s.env = []string{"TARS_JWT_SECRET=" + jwtSecret}
	code, res, out := s.triage("--timeout", "3s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if r := res["service/dashboard-api"]; r.Status != "fail" || r.Value != "not running" {
		t.Errorf("service: %+v", r)
	}
	if r := res["redis"]; r.Status != "fail" || !strings.Contains(r.Value, "connection refused") || !strings.Contains(r.Hint, "redis-server") {
		t.Errorf("redis: %+v", r)
	}
	if r := res["postgres"]; r.Status != "fail" || !strings.Contains(r.Hint, "PostgreSQL is not answering") {
		t.Errorf("postgres: %+v", r)
	}
	for _, sec := range []string{redisPw, pgPw, jwtSecret} {
		if strings.Contains(out, sec) {
			t.Errorf("output shows secret %q:\n%s", sec, out)
		}
	}
	// Text output: one line per check, and --check narrows the run.
	code, text, _ := s.run("triage", "--check", "redis")
	if code != 1 || !strings.HasPrefix(text, "fail  redis") || !strings.Contains(text, "hint: ") {
		t.Errorf("text: exit %d\n%s", code, text)
	}
	if code, _, errOut := s.run("triage", "--check", "nope"); code != 2 {
		t.Errorf("unknown check: exit %d %s", code, errOut)
	}
}

func TestJWTDecode(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	issued := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	now := issued.Add(4 * time.Hour)
	signer, err := auth.NewSigner(secret, time.Hour, func() time.Time { return issued })
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue("alice", "operator")
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "jwt_secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongFile, []byte(strings.Repeat("w", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		wantErr error
		want    []string
	}{
		{"unverified", []string{tok}, "", nil, []string{"sub:  alice", "EXPIRED 3h ago", "NOT VERIFIED",
			fmt.Sprintf("exp:  %d\n", issued.Add(time.Hour).Unix()), fmt.Sprintf("iat:  %d\n", issued.Unix())}},
		{"stdin", []string{"-"}, "Bearer " + tok + "\n", nil, []string{"role: operator", "EXPIRED 3h ago"}},
		{"verified", []string{tok, "--secret-file", secretFile}, "", nil, []string{"signature: verified"}},
		{"wrong secret", []string{tok, "--secret-file", wrongFile}, "", cmdutil.ErrSilent, []string{"signature: INVALID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, in, out, _ := iostreams.Test()
			in.WriteString(tc.stdin)
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}, Now: func() time.Time { return now }}
			cmd := NewCmdJWTDecode(f, nil)
			cmd.SetArgs(tc.args)
			cmd.SetOut(out)
			cmd.SetErr(out)
			if err := cmd.Execute(); err != tc.wantErr {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// JSON keeps NumericDate claims as the integers they are.
	ios, _, out, _ := iostreams.Test()
	cmd := NewCmdJWTDecode(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: cmdutil.OutputJSON}, Now: func() time.Time { return now }}, nil)
	cmd.SetArgs([]string{tok})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Claims map[string]json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, want := string(doc.Claims["exp"]), fmt.Sprint(issued.Add(time.Hour).Unix()); got != want {
		t.Errorf("claims.exp = %s, want %s", got, want)
	}

	ios, _, _, _ = iostreams.Test()
	cmd = NewCmdJWTDecode(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}, Now: time.Now}, nil)
	cmd.SetArgs([]string{"garbage"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var fe *cmdutil.FlagError
	if err := cmd.Execute(); err == nil || !asFlagError(err, &fe) {
		t.Fatalf("garbage token: %v", err)
	}
}

func asFlagError(err error, fe **cmdutil.FlagError) bool {
	e, ok := err.(*cmdutil.FlagError)
	*fe = e
	return ok
}
