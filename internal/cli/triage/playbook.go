package triage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/compliance"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/triage"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// PlaybookOptions are the inputs of `tarsctl triage playbook`.
type PlaybookOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time
	// Sources overrides the evidence sources built from the configuration
	// (tests).
	Sources func(*config.Config) (triage.Sources, []string, error)

	Output   string
	Playbook string
	Timeout  time.Duration
	Since    time.Duration
}

// NewCmdPlaybook returns `tarsctl triage playbook`.
func NewCmdPlaybook(f *cmdutil.Factory, runF func(context.Context, *PlaybookOptions) error) *cobra.Command {
	opts := &PlaybookOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	names := triage.PlaybookNames()
	cmd := &cobra.Command{
		Use:   "playbook " + strings.Join(names, "|"),
		Short: "Run an incident response playbook",
		Long: heredoc.Docf(`
			Run the triage steps of one of the runbook's incident response
			playbooks, judge each row of its root-cause table by the evidence
			(supported, not supported, unknown, with the reason), and print the
			resolution commands: tarsctl's own where they exist, the runbook's
			Kubernetes commands (marked) where tarsctl has none yet.

			Playbooks: %s.

			EXIT STATUS
			  0  no root cause is supported by the evidence
			  1  at least one root cause is supported (cron can alert on it)
			  2  unknown playbook or bad flags
			  3  no step could reach anything
		`, strings.Join(names, ", ")),
		Example: heredoc.Doc(`
			$ tarsctl triage playbook high-latency
			$ tarsctl triage playbook security --since 24h
			$ tarsctl triage playbook compliance -o json | jq '.causes[] | select(.verdict=="supported")'
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("name a playbook: %s", strings.Join(names, ", "))
			}
			if _, ok := triage.Playbooks()[args[0]]; !ok {
				return cmdutil.FlagErrorf("unknown playbook %q: expected one of %s", args[0], strings.Join(names, ", "))
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Playbook = args[0]
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if opts.Since <= 0 {
				return cmdutil.FlagErrorf("--since must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return playbookRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit of each step")
	fl.DurationVar(&opts.Since, "since", time.Hour, "window of the log and audit-log counts")
	return cmd
}

func playbookRun(ctx context.Context, opts *PlaybookOptions) error {
	silenceRedisLog()
	pb := triage.Playbooks()[opts.Playbook]
	if pb == nil {
		return cmdutil.FlagErrorf("unknown playbook %q: expected one of %s", opts.Playbook, strings.Join(triage.PlaybookNames(), ", "))
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	build := opts.Sources
	if build == nil {
		build = func(cfg *config.Config) (triage.Sources, []string, error) {
			return PlaybookSources(cfg, opts.Getenv, opts.Now)
		}
	}
	src, secrets, err := build(cfg)
	if err != nil {
		return err
	}
	src.Now, src.Since = opts.Now, opts.Since
	rep := triage.RunPlaybook(ctx, pb, src, opts.Timeout)
	redactReport(&rep, secrets)
	if opts.Output == cmdutil.OutputJSON {
		err = ui.WriteJSON(opts.IO.Out, rep)
	} else {
		err = PrintPlaybook(opts.IO.Out, opts.IO.IsStdoutTTY(), rep)
	}
	if err != nil {
		return err
	}
	switch rep.Status {
	case triage.RootCauseFound:
		return cmdutil.ErrSilent
	case triage.NothingReached:
		return cmdutil.WithHint(cmdutil.Unreachable(fmt.Errorf("playbook %s: no step reached anything", pb.Name)),
			"start the stack (tarsctl start --all) and check the configuration (tarsctl config show)")
	}
	return nil
}

func redactReport(rep *triage.PlaybookReport, secrets []string) {
	for i := range rep.Steps {
		rep.Steps[i].Value = Redact(rep.Steps[i].Value, secrets)
		rep.Steps[i].Hint = Redact(rep.Steps[i].Hint, secrets)
	}
	for i := range rep.Causes {
		rep.Causes[i].Reason = Redact(rep.Causes[i].Reason, secrets)
	}
}

// PrintPlaybook writes the report for people: the steps with ✓/!/✗ (the
// words ok/warn/fail without a TTY), the likely causes with the supported
// rows first, and the next steps.
func PrintPlaybook(w io.Writer, tty bool, rep triage.PlaybookReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (runbook: %s), last %s\n\n", rep.Title, rep.Runbook, rep.Window)
	width := 0
	for _, r := range rep.Steps {
		width = max(width, len(r.Check))
	}
	fmt.Fprintln(&b, "Triage steps")
	for _, r := range rep.Steps {
		mark := map[string]string{triage.OK: "✓ ok  ", triage.Warn: "! warn", triage.Fail: "✗ fail"}[r.Status]
		if !tty {
			mark = fmt.Sprintf("%-4s", r.Status)
		}
		fmt.Fprintf(&b, "  %s  %-*s  %s\n", mark, width, r.Check, r.Value)
		if r.Hint != "" && r.Status != triage.OK {
			fmt.Fprintf(&b, "  %s  %*s  hint: %s\n", strings.Repeat(" ", len([]rune(mark))), width, "", r.Hint)
		}
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Likely causes")
	label := map[string]string{triage.Supported: "SUPPORTED    ", triage.Unknown: "unknown      ", triage.NotSupported: "not supported"}
	for _, c := range triage.SortedCauses(rep.Causes) {
		fmt.Fprintf(&b, "  %s  %s: %s -> %s\n", label[c.Verdict], c.Row, c.Cause, c.Solution)
		fmt.Fprintf(&b, "  %s  why: %s\n", strings.Repeat(" ", 13), c.Reason)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Next steps")
	for _, c := range rep.Next {
		prompt := "$"
		if c.Manual {
			prompt = "-"
		}
		fmt.Fprintf(&b, "  %s %s\n", prompt, c.Command)
		if c.Note != "" {
			fmt.Fprintf(&b, "      (%s)\n", c.Note)
		}
	}
	switch rep.Status {
	case triage.RootCauseFound:
		fmt.Fprintln(&b, "\nResult: the evidence supports a root cause (exit 1)")
	case triage.NoRootCause:
		fmt.Fprintln(&b, "\nResult: no root cause is supported by the evidence")
	default:
		fmt.Fprintln(&b, "\nResult: nothing could be reached")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PlaybookSources says where the playbooks find their evidence in cfg,
// and returns the resolved secrets that output must never show.
func PlaybookSources(cfg *config.Config, getenv func(string) string, now func() time.Time) (triage.Sources, []string, error) {
	var secrets []string
	sup := newSupervisor(cfg, now)
	src := triage.Sources{
		LogDir:      cfg.Paths.LogDirPath(),
		Services:    services.Names(),
		MetricsURLs: map[string]string{},
		CertFile:    cfg.API.TLS.CertFile,
		Service: func(ctx context.Context, name string) (triage.ServiceState, error) {
			st, err := sup.Status(ctx, name)
			return triage.ServiceState{State: st.State, PID: st.PID, Health: st.Health, Uptime: st.Uptime}, err
		},
	}
	if cfg.RateLimiting.Enabled {
		src.RateLimit = cfg.RateLimiting.RequestsPerMinute
	}
	for _, name := range src.Services {
		if sp, ok := services.Lookup(name); ok {
			src.MetricsURLs[name] = sp.URL(cfg) + "/metrics"
		}
	}
	if sp, ok := services.Lookup(services.DashboardAPI); ok {
		src.APIURL = sp.URL(cfg)
	}
	if cfg.Audit.Enabled {
		src.AuditFile = cfg.Audit.File
		if src.AuditFile == "" {
			src.AuditFile = filepath.Join(cfg.Paths.LogDirPath(), "audit.log")
		}
	}
	if cfg.Redis.Enabled {
		e, err := redisEndpoint(cfg, getenv)
		if err != nil {
			return src, nil, err
		}
		secrets = append(secrets, e.Password)
		src.Redis = &e
	}
	url, pw, ok, err := postgresURL(cfg, getenv)
	if err != nil {
		return src, nil, err
	}
	if ok {
		secrets = append(secrets, url, pw)
		src.PostgresURL = url
	}
	src.Compliance = func(ctx context.Context) (compliance.Report, string, error) {
		return complianceReport(ctx, cfg, getenv, src.APIURL, src.AuditFile, now)
	}
	if s, err := cfg.Auth.JWTSecret.Resolve(getenv); err == nil {
		secrets = append(secrets, s)
	}
	secrets = append(secrets, getenv("TARS_JWT_SECRET"))
	return src, secrets, nil
}

// complianceReport asks dashboard-api (the runbook's curl, with a
// short-lived viewer token when auth is on); when it does not answer, it
// evaluates the controls against the configuration as dashboard-api would.
func complianceReport(ctx context.Context, cfg *config.Config, getenv func(string) string, apiURL, auditFile string, now func() time.Time) (compliance.Report, string, error) {
	token := ""
	if cfg.Auth.Enabled {
		if secret, ok := existingJWTSecret(cfg, getenv); ok {
			if signer, err := auth.NewSigner(secret, time.Minute, nil); err == nil {
				token, _, _ = signer.Issue("service:tarsctl-triage", store.RoleViewer)
			}
		}
	}
	rep, err := triage.FetchCompliance(ctx, apiURL+"/api/compliance/status", token)
	if err == nil {
		return rep, "dashboard-api", nil
	}
	if ctx.Err() != nil {
		return rep, "", err
	}
	auditOpen := false
	if auditFile != "" {
		if f, err := os.OpenFile(auditFile, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			f.Close()
			auditOpen = true
		} else if errors.Is(err, os.ErrNotExist) {
			auditOpen = true // dashboard-api creates it on start
		}
	}
	return compliance.Evaluate(cfg, auditOpen, now()), "the configuration (dashboard-api not answering)", nil
}

// existingJWTSecret resolves the JWT secret without generating one (which
// serviceapi.JWTSecret does on the local profile).
func existingJWTSecret(cfg *config.Config, getenv func(string) string) ([]byte, bool) {
	if !cfg.Auth.JWTSecret.IsSet() && cfg.Auth.JWTSecretFile == "" && getenv("TARS_JWT_SECRET") == "" {
		if _, err := os.Stat(filepath.Join(cfg.Paths.SecretsDirPath(), secrets.JWTSecretFile)); err != nil {
			return nil, false
		}
	}
	s, _, err := serviceapi.JWTSecret(cfg, getenv)
	return s, err == nil
}
