package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/supervisor"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type stack struct {
	t    *testing.T
	bin  string
	home string
	url  string
	args []string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	bin := testenv.Tarsctl(t)
	port := testenv.FreePort(t)
	s := &stack{t: t, bin: bin, home: t.TempDir(), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.args = []string{"--profile", "local",
		"--set", "paths.home=" + s.home,
		"--set", fmt.Sprintf("api.port=%d", port),
		"--set", "auth.enabled=true",
	}
	t.Cleanup(func() { s.run("", "stop", "--all", "--timeout", "5s") })
	return s
}

func (s *stack) run(stdin string, args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Env = append(os.Environ(), "HOME="+s.home, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
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

func (s *stack) login(user, pw string) (int, string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := http.Post(s.url+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.AccessToken
}

func (s *stack) get(token string) int {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/agents", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRotateJWT runs the real binary: a dashboard-api started by tarsctl,
// a user logged in, `secrets rotate jwt`, and then the old token must get
// 401 while a fresh login works; --rollback brings the old token back.
func TestRotateJWT(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const pw = "correct horse battery staple"
	if code, _, errOut := s.run(pw+"\n", "users", "add", "admin", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	if code, _, errOut := s.run("", "start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d %s", code, errOut)
	}
	code, oldToken := s.login("admin", pw)
	if code != 200 || s.get(oldToken) != 200 {
		t.Fatalf("login before rotation: %d", code)
	}
	secretFile := filepath.Join(s.home, "secrets", "jwt_secret")
	before, _ := os.ReadFile(secretFile)

	code, out, errOut := s.run(pw+"\n", "secrets", "rotate", "jwt", "--yes", "--username", "admin", "--password-stdin")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "Verified: a token issued before is rejected (401)") || out != "" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	after, _ := os.ReadFile(secretFile)
	if bytes.Equal(before, after) || strings.Contains(errOut, strings.TrimSpace(string(after))) || strings.Contains(errOut, strings.TrimSpace(string(before))) {
		t.Error("secret unchanged or printed")
	}
	if fi, _ := os.Stat(secretFile + ".previous"); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Error("previous secret not kept 0600")
	}
	if got := s.get(oldToken); got != http.StatusUnauthorized {
		t.Errorf("old token after rotation: %d, want 401", got)
	}
	code, newToken := s.login("admin", pw)
	if code != 200 || s.get(newToken) != 200 {
		t.Errorf("login after rotation: %d", code)
	}

	// Rollback: the old secret is back, so the old token works again and
	// the one issued under the rotated secret does not.
	code, _, errOut = s.run("", "secrets", "rotate", "jwt", "--rollback", "--yes")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s", code, errOut)
	}
	if restored, _ := os.ReadFile(secretFile); !bytes.Equal(restored, before) {
		t.Error("rollback did not restore the secret")
	}
	if s.get(oldToken) != 200 || s.get(newToken) != http.StatusUnauthorized {
		t.Errorf("after rollback: old token %d, new token %d", s.get(oldToken), s.get(newToken))
	}
}

func TestRotateJWTRefusals(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
	cmd := NewCmdRotateJWT(f, func(context.Context, *RotateJWTOptions) error { return nil })
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "needs --yes") {
		t.Errorf("without --yes: %v", err)
	}
	cmd.SetArgs([]string{"--yes", "--username", "admin"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("--username alone: %v", err)
	}

	// A secret from the configuration is not rewritten: exit 2.
	cfg := &config.Config{}
	cfg.Auth.JWTSecret = "env:SOME_VAR"
	err := rotateJWTRun(context.Background(), &RotateJWTOptions{IO: ios, Yes: true,
		Config: func() (*config.Config, error) { return cfg, nil }, Getenv: func(string) string { return "" }})
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "auth.jwt_secret") {
		t.Errorf("secret in config: %v", err)
	}
}

// stoppedDaemons is a supervisor with nothing running.
type stoppedDaemons struct{}

func (stoppedDaemons) Status(_ context.Context, service string) (supervisor.Status, error) {
	return supervisor.Status{Service: service, State: "stopped"}, nil
}
func (stoppedDaemons) Stop(context.Context, string, time.Duration) (supervisor.StopResult, error) {
	panic("Stop called with nothing running")
}
func (stoppedDaemons) Start(context.Context, string, time.Duration) (supervisor.StartResult, error) {
	panic("Start called with nothing running")
}

func TestRotateJWTFileOnly(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{}
	cfg.Auth.JWTSecretFile = filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(cfg.Auth.JWTSecretFile, []byte("original-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(rollback bool) (string, error) {
		ios, _, out, errOut := iostreams.Test()
		err := rotateJWTRun(context.Background(), &RotateJWTOptions{IO: ios, Yes: true, Rollback: rollback,
			Config: func() (*config.Config, error) { return cfg, nil }, Getenv: func(string) string { return "" },
			Daemons: func(*config.Config) (Daemons, error) { return stoppedDaemons{}, nil }})
		if out.Len() != 0 {
			t.Errorf("stdout %q", out)
		}
		return errOut.String(), err
	}
	errOut, err := run(false)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := os.ReadFile(cfg.Auth.JWTSecretFile)
	prev, _ := auth.ReadPrevious(cfg.Auth.JWTSecretFile + ".previous")
	if len(prev) != 1 || string(prev[0].Secret) != "original-secret" || !prev[0].VerifyUntil.IsZero() || len(strings.TrimSpace(string(now))) != 44 || strings.Contains(errOut, strings.TrimSpace(string(now))) {
		t.Errorf("after rotate: prev %q, new secret length %d, stderr %q", prev, len(now), errOut)
	}
	if !strings.Contains(errOut, "dashboard-api is not running") {
		t.Errorf("stderr %q", errOut)
	}
	if _, err := run(true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cfg.Auth.JWTSecretFile); string(got) != "original-secret\n" {
		t.Errorf("rollback left %q", got)
	}
}

// TestRotateJWTGrace runs the real binary: `secrets rotate jwt --grace`
// keeps a token issued before valid while a fresh login works; a rollback
// after it works; and with a short grace period the old token gets 401 once
// the period is over, and the next start removes the expired secret.
func TestRotateJWTGrace(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const pw = "correct horse battery staple"
	if code, _, errOut := s.run(pw+"\n", "users", "add", "admin", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	if code, _, errOut := s.run("", "start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d %s", code, errOut)
	}
	code, tokA := s.login("admin", pw)
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	secretFile := filepath.Join(s.home, "secrets", "jwt_secret")
	secretA, _ := os.ReadFile(secretFile)

	code, out, errOut := s.run(pw+"\n", "secrets", "rotate", "jwt", "--grace", "1h", "--yes", "--username", "admin", "--password-stdin", "-o", "json")
	if code != 0 {
		t.Fatalf("rotate --grace: exit %d\n%s", code, errOut)
	}
	var res rotateJWTResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Verified || res.OldKeyID != auth.KeyID(bytes.TrimSpace(secretA)) ||
		res.VerifyUntil == "" || len(res.Restarted) != 1 {
		t.Fatalf("json %s: %+v %v", out, res, err)
	}
	if strings.Contains(out+errOut, strings.TrimSpace(string(secretA))) {
		t.Error("secret printed")
	}
	if got := s.get(tokA); got != 200 {
		t.Errorf("token from before, in the grace period: %d, want 200", got)
	}
	code, tokB := s.login("admin", pw)
	if code != 200 || s.get(tokB) != 200 {
		t.Errorf("login after the graceful rotation: %d", code)
	}

	// Rollback after a graceful rotation: secret A is back; B's tokens die.
	if code, _, errOut := s.run("", "secrets", "rotate", "jwt", "--rollback", "--yes"); code != 0 {
		t.Fatalf("rollback: exit %d\n%s", code, errOut)
	}
	if restored, _ := os.ReadFile(secretFile); !bytes.Equal(restored, secretA) {
		t.Error("rollback did not restore secret A")
	}
	if s.get(tokA) != 200 || s.get(tokB) != http.StatusUnauthorized {
		t.Errorf("after rollback: A %d, B %d", s.get(tokA), s.get(tokB))
	}

	// A one-second grace period: the old token dies by itself, without a
	// restart, and the expired secret leaves the file at the next start.
	if code, _, errOut := s.run("", "secrets", "rotate", "jwt", "--grace", "1s", "--yes"); code != 0 {
		t.Fatalf("rotate --grace 1s: exit %d\n%s", code, errOut)
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.get(tokA) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the old token is still accepted a minute after a 1s grace period")
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, tokC := s.login("admin", pw)
	if code != 200 || s.get(tokC) != 200 {
		t.Errorf("login after the grace period: %d", code)
	}
	if code, _, errOut := s.run("", "stop", "dashboard-api"); code != 0 {
		t.Fatalf("stop: %d %s", code, errOut)
	}
	if code, _, errOut := s.run("", "start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d %s", code, errOut)
	}
	prev, err := auth.ReadPrevious(secretFile + ".previous")
	if err != nil || len(prev) != 0 {
		t.Errorf("previous secrets after the start: %d entries, %v; want the expired one removed", len(prev), err)
	}
	if m, _ := filepath.Glob(secretFile + "*.shred-*"); len(m) != 0 {
		t.Errorf("shred links left: %v", m)
	}
	if s.get(tokA) != http.StatusUnauthorized || s.get(tokC) != 200 {
		t.Errorf("after restart: A %d, C %d", s.get(tokA), s.get(tokC))
	}
}
