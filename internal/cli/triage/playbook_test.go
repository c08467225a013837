package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
	"github.com/tars-ops/tarsctl/internal/triage"
)

func TestNewCmdPlaybook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		want    PlaybookOptions
		wantErr string
	}{
		{"defaults", []string{"security"}, PlaybookOptions{Playbook: "security", Timeout: 10 * time.Second, Since: time.Hour}, ""},
		{"flags", []string{"high-latency", "--since", "24h", "--timeout", "2s"}, PlaybookOptions{Playbook: "high-latency", Timeout: 2 * time.Second, Since: 24 * time.Hour}, ""},
		{"unknown", []string{"nope"}, PlaybookOptions{}, "expected one of high-latency, anomaly, kpi-regression, security, compliance"},
		{"missing", []string{}, PlaybookOptions{}, "name a playbook"},
		{"two", []string{"security", "anomaly"}, PlaybookOptions{}, "name a playbook"},
		{"zero since", []string{"security", "--since", "0s"}, PlaybookOptions{}, "--since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *PlaybookOptions
			cmd := NewCmdPlaybook(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}}, func(_ context.Context, o *PlaybookOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Playbook != tc.want.Playbook || got.Timeout != tc.want.Timeout || got.Since != tc.want.Since {
				t.Fatalf("opts = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPlaybookCompletion(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdPlaybook(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}}, nil)
	got, dir := cmd.ValidArgsFunction(cmd, nil, "")
	if !slices.Equal(got, []string{"high-latency", "anomaly", "kpi-regression", "security", "compliance"}) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Fatalf("completion = %v %v", got, dir)
	}
}

// fixedSecuritySources are the golden test's inputs: a log with a burst of
// 401s and rate limits, and an audit log with failed logins and a refresh
// token replay, read at a fixed time.
func fixedSecuritySources(t *testing.T, now time.Time) triage.Sources {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	for i := range 30 {
		fmt.Fprintf(&log, "%s INFO [dashboard-api] GET /api/agents 401 Unauthorized duration=0.8ms\n", now.Add(-10*time.Minute+time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"))
	}
	for i := range 22 {
		fmt.Fprintf(&log, "%s WARNING [dashboard-api] rate_limit_exceeded scope=login ip=203.0.113.9 limit=10\n", now.Add(-5*time.Minute+time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"))
	}
	var audit strings.Builder
	for i := range 21 {
		fmt.Fprintf(&audit, `{"time":%q,"event":"login_failure","ip":"203.0.113.9","outcome":"denied"}`+"\n", now.Add(-5*time.Minute+time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&audit, `{"time":%q,"event":"refresh_reuse_detected","username":"alice","ip":"198.51.100.7","outcome":"denied"}`+"\n", now.Add(-2*time.Minute).UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "dashboard-api.log"), []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit.log"), []byte(audit.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return triage.Sources{LogDir: dir, AuditFile: filepath.Join(dir, "audit.log")}
}

// TestPlaybookText is the golden text output of the security playbook
// with fixed inputs, without and with a TTY.
func TestPlaybookText(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	src := fixedSecuritySources(t, now)
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			ios.SetStdoutTTY(tty)
			opts := &PlaybookOptions{IO: ios, Playbook: "security", Timeout: 5 * time.Second, Since: time.Hour,
				Now:     func() time.Time { return now },
				Config:  func() (*config.Config, error) { return &config.Config{}, nil },
				Sources: func(*config.Config) (triage.Sources, []string, error) { return src, nil, nil },
			}
			if err := playbookRun(context.Background(), opts); err != cmdutil.ErrSilent {
				t.Fatalf("err = %v, want ErrSilent (exit 1: a root cause is supported)", err)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut)
			}
			golden.Assert(t, out.Bytes())
		})
	}
}

func TestPlaybookJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	src := fixedSecuritySources(t, now)
	ios, _, out, _ := iostreams.Test()
	opts := &PlaybookOptions{IO: ios, Playbook: "security", Timeout: 5 * time.Second, Since: time.Hour, Output: cmdutil.OutputJSON,
		Now:     func() time.Time { return now },
		Config:  func() (*config.Config, error) { return &config.Config{}, nil },
		Sources: func(*config.Config) (triage.Sources, []string, error) { return src, []string{"203.0.113.9"}, nil },
	}
	if err := playbookRun(context.Background(), opts); err != cmdutil.ErrSilent {
		t.Fatalf("err = %v", err)
	}
	var rep struct {
		Playbook, Status string
		Steps            []struct{ Check, Status, Value string }
		Causes           []struct{ Row, Verdict, Reason string }
		NextSteps        []struct {
			Command string
			Tarsctl bool
		} `json:"next_steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Playbook != "security" || rep.Status != "root_cause_found" || len(rep.Causes) != 4 || len(rep.Steps) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	if !rep.NextSteps[0].Tarsctl || rep.NextSteps[0].Command != "tarsctl triage sessions revoke-all --yes" {
		t.Errorf("next steps: %+v", rep.NextSteps)
	}
	if strings.Contains(out.String(), "203.0.113.9") {
		t.Errorf("a secret value is shown:\n%s", out)
	}
}

type playbookJSON struct {
	Status string
	Steps  []checkJSON
	Causes []struct{ Row, Verdict, Reason string }
	Next   []struct{ Command string } `json:"next_steps"`
}

func (s *stack) playbook(name string, args ...string) (int, playbookJSON, string) {
	s.t.Helper()
	code, out, errOut := s.run(append([]string{"triage", "playbook", name, "-o", "json"}, args...)...)
	var rep playbookJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		s.t.Fatalf("triage playbook -o json: %v\n%s\n%s", err, out, errOut)
	}
	return code, rep, out + errOut
}

// TestPlaybookComplianceRealAPI starts the real dashboard-api with
// encryption off, audit logging on and enforcement_mode warn (so it
// starts), and runs the compliance playbook against it.
func TestPlaybookComplianceRealAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, "--set", "compliance.controls=encryption_at_rest,audit_logging",
		"--set", "compliance.enforcement_mode=warn", "--set", "encryption.enabled=false")
	if code, out, errOut := s.run("start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d\n%s%s", code, out, errOut)
	}
	code, rep, out := s.playbook("compliance")
	if code != 1 || rep.Status != "root_cause_found" {
		t.Fatalf("exit %d, status %s\n%s", code, rep.Status, out)
	}
	var step checkJSON
	for _, st := range rep.Steps {
		if st.Check == "compliance-status" {
			step = st
		}
	}
	if step.Status != "fail" || !strings.Contains(step.Value, "1 of 2 controls fail, enforcement_mode warn, from dashboard-api: encryption_at_rest") {
		t.Errorf("compliance-status step: %+v", step)
	}
	verdicts := map[string]string{}
	for _, c := range rep.Causes {
		verdicts[c.Row] = c.Verdict + ": " + c.Reason
	}
	if v := verdicts["encryption_at_rest"]; !strings.HasPrefix(v, "supported: encryption.enabled is false; operations proceed with warnings") {
		t.Errorf("encryption_at_rest: %s", v)
	}
	if v := verdicts["audit_logging"]; !strings.HasPrefix(v, "not_supported: passes") {
		t.Errorf("audit_logging: %s", v)
	}
	if v := verdicts["data_retention"]; !strings.HasPrefix(v, "unknown: not checked") {
		t.Errorf("data_retention: %s", v)
	}
	var cmds []string
	for _, n := range rep.Next {
		cmds = append(cmds, n.Command)
	}
	if len(cmds) < 2 || cmds[0] != "tarsctl config show" || cmds[1] != "tarsctl restart dashboard-api" {
		t.Errorf("next steps: %v", cmds)
	}
	// The daemon logged the failed control at start: the violations step
	// finds it.
	code, text, _ := s.run("triage", "playbook", "compliance")
	if code != 1 || !strings.Contains(text, "SUPPORTED      encryption_at_rest") || !strings.Contains(text, "violations=1") {
		t.Errorf("text: exit %d\n%s", code, text)
	}

	// With the daemon stopped, the controls are evaluated from the
	// configuration.
	if code, out, errOut := s.run("stop", "dashboard-api"); code != 0 {
		t.Fatalf("stop: %d\n%s%s", code, out, errOut)
	}
	code, rep, out = s.playbook("compliance", "--timeout", "3s")
	if code != 1 || !strings.Contains(out, "from the configuration (dashboard-api not answering)") {
		t.Errorf("stopped daemon: exit %d\n%s", code, out)
	}
}

func TestPlaybookUnknownAndUnreachable(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code, _, errOut := s.run("triage", "playbook", "nope")
	if code != 2 || !strings.Contains(errOut, "high-latency, anomaly, kpi-regression, security, compliance") {
		t.Errorf("unknown playbook: exit %d %s", code, errOut)
	}
	// Nothing runs: high-latency reaches neither the API nor the daemon;
	// only the (empty) logs are read, which decides two rows.
	code, rep, out := s.playbook("high-latency", "--timeout", "3s")
	if code != 0 || rep.Status != "no_root_cause" {
		t.Errorf("stopped stack: exit %d\n%s", code, out)
	}
}

func TestPlaybookNothingReachedExit3(t *testing.T) {
	t.Parallel()
	ios, _, out, _ := iostreams.Test()
	closed := "http://" + closedAddr(t)
	opts := &PlaybookOptions{IO: ios, Playbook: "high-latency", Timeout: 3 * time.Second, Since: time.Hour,
		Now:    time.Now,
		Config: func() (*config.Config, error) { return &config.Config{}, nil },
		Sources: func(*config.Config) (triage.Sources, []string, error) {
			return triage.Sources{APIURL: closed}, nil, nil
		},
	}
	err := playbookRun(context.Background(), opts)
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != cmdutil.ExitUnreachable {
		t.Fatalf("err = %v, want exit %d", err, cmdutil.ExitUnreachable)
	}
	if !strings.Contains(out.String(), "Result: nothing could be reached") {
		t.Errorf("output:\n%s", out)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPlaybookFreshStackMetrics: a dashboard-api that has served only its
// probes answers /metrics without a request histogram; the metrics step
// says so instead of calling the daemon unreachable.
func TestPlaybookFreshStackMetrics(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	if code, out, errOut := s.run("start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d\n%s%s", code, out, errOut)
	}
	_, rep, out := s.playbook("high-latency")
	var step checkJSON
	for _, st := range rep.Steps {
		if st.Check == "metrics" {
			step = st
		}
	}
	if step.Status != "ok" || !strings.Contains(step.Value, "no API requests since dashboard-api started") {
		t.Errorf("metrics step on a fresh stack: %+v\n%s", step, out)
	}
}
