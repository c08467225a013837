package triage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/supervisor"
	"github.com/tars-ops/tarsctl/internal/triage"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// RunOptions are the inputs of `tarsctl triage run`.
type RunOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time

	Output  string
	Checks  []string
	Timeout time.Duration
	Since   time.Duration
	Strict  bool
}

// NewCmdRun returns `tarsctl triage run`.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the diagnostic checks",
		Long: heredoc.Doc(`
			Run every check concurrently, each under --timeout, and print one line
			per check: ok, warn or fail, what was measured and, on warn or fail,
			the runbook's cause and remedy.

			Checks: service/<name> (pidfile and /health of each local daemon),
			api-latency, redis, postgres, disk/<dir>, tls/<name>, key/<name>, logs.
			--check takes a name or a prefix (service, disk).

			EXIT STATUS
			  0  every check ok (warnings allowed unless --strict)
			  1  a check failed, or warned with --strict
			  2  bad flags
		`),
		Example: heredoc.Doc(`
			$ tarsctl triage run
			$ tarsctl triage run --check redis --timeout 2s
			$ tarsctl triage run --strict -o json | jq '.checks[] | select(.status!="ok")'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Checks, "check", nil, "run only this check or prefix (repeatable)")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit of each check")
	fl.DurationVar(&opts.Since, "since", time.Hour, "window of the log pattern counts")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 on warnings too")
	return cmd
}

// Report is the JSON document of `tarsctl triage run -o json`.
type Report struct {
	Status string          `json:"status"`
	Checks []triage.Result `json:"checks"`
}

func runRun(ctx context.Context, opts *RunOptions) error {
	silenceRedisLog()
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	checks, secrets := BuildChecks(cfg, opts.Getenv, opts.Now, opts.Since)
	if len(opts.Checks) > 0 {
		var sel []triage.Check
		for _, c := range checks {
			if slices.ContainsFunc(opts.Checks, func(n string) bool { return c.Name == n || strings.HasPrefix(c.Name, n+"/") }) {
				sel = append(sel, c)
			}
		}
		if len(sel) == 0 {
			var names []string
			for _, c := range checks {
				names = append(names, c.Name)
			}
			return cmdutil.FlagErrorf("no check matches %s: expected %s", strings.Join(opts.Checks, ", "), strings.Join(names, ", "))
		}
		checks = sel
	}
	results := triage.Run(ctx, checks, opts.Timeout)
	for i := range results {
		results[i].Value = Redact(results[i].Value, secrets)
		results[i].Hint = Redact(results[i].Hint, secrets)
	}
	worst := triage.Worst(results)
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, Report{Status: worst, Checks: results}); err != nil {
			return err
		}
	} else if err := printResults(opts.IO, results); err != nil {
		return err
	}
	if worst == triage.Fail || (opts.Strict && worst == triage.Warn) {
		return cmdutil.ErrSilent
	}
	return nil
}

func printResults(ios *iostreams.IOStreams, results []triage.Result) error {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Check))
	}
	for _, r := range results {
		mark := map[string]string{triage.OK: "✓ ok  ", triage.Warn: "! warn", triage.Fail: "✗ fail"}[r.Status]
		if !ios.IsStdoutTTY() {
			mark = r.Status
		}
		if _, err := fmt.Fprintf(ios.Out, "%-4s  %-*s  %s\n", mark, width, r.Check, r.Value); err != nil {
			return err
		}
		if r.Hint != "" {
			if _, err := fmt.Fprintf(ios.Out, "      %*s  hint: %s\n", width, "", r.Hint); err != nil {
				return err
			}
		}
	}
	return nil
}

// Redact replaces every secret value in s.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

// BuildChecks returns the checks cfg calls for, and the resolved secrets
// that output must never show.
func BuildChecks(cfg *config.Config, getenv func(string) string, now func() time.Time, since time.Duration) ([]triage.Check, []string) {
	var checks []triage.Check
	var secrets []string
	sup := newSupervisor(cfg, now)
	for _, name := range services.Names() {
		checks = append(checks, triage.ServiceCheck(name, func(ctx context.Context) (triage.ServiceState, error) {
			st, err := sup.Status(ctx, name)
			return triage.ServiceState{State: st.State, PID: st.PID, Health: st.Health}, err
		}))
	}
	if sp, ok := services.Lookup(services.DashboardAPI); ok {
		checks = append(checks, triage.HTTPCheck("api-latency", sp.URL(cfg)+"/health", 500*time.Millisecond))
	}
	if cfg.Redis.Enabled {
		e, err := redisEndpoint(cfg, getenv)
		if err != nil {
			checks = append(checks, failing("redis", err.Error(), "check redis.password and the other redis.* keys"))
		} else {
			secrets = append(secrets, e.Password)
			checks = append(checks, triage.RedisCheck(e))
		}
	}
	if url, pw, ok, err := postgresURL(cfg, getenv); err != nil {
		checks = append(checks, failing("postgres", err.Error(), "check the database.url or database.password reference"))
	} else if ok {
		secrets = append(secrets, url, pw)
		checks = append(checks, triage.PostgresCheck(url))
	}
	hosts := []string{cfg.API.Host}
	if cfg.Redis.Enabled {
		hosts = append(hosts, cfg.Redis.Host)
	}
	if cfg.Database.Driver == config.DatabasePostgres {
		hosts = append(hosts, cfg.Database.Host)
	}
	checks = append(checks, triage.DNSCheck(hosts))
	checks = append(checks,
		triage.DiskCheck("data", cfg.Paths.DataDirPath()),
		triage.DiskCheck("log", cfg.Paths.LogDirPath()),
	)
	if cfg.API.TLS.CertFile != "" {
		checks = append(checks, triage.CertFileCheck("api", cfg.API.TLS.CertFile, now))
	}
	for name, p := range map[string]string{"encryption": cfg.Encryption.KeyFile, "signing": cfg.Signing.KeyFile} {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.Paths.SecretsDirPath(), p)
		}
		checks = append(checks, triage.KeyAgeCheck(name, p, now))
	}
	checks = append(checks, triage.LogCheck(cfg.Paths.LogDirPath(), since, now))
	slices.SortStableFunc(checks, func(a, b triage.Check) int { return order(a.Name) - order(b.Name) })
	// Not serviceapi.JWTSecret: on the local profile it creates a secret.
	if s, err := cfg.Auth.JWTSecret.Resolve(getenv); err == nil {
		secrets = append(secrets, s)
	}
	secrets = append(secrets, getenv("TARS_JWT_SECRET"))
	return checks, secrets
}

// newSupervisor inspects the catalog's daemons under cfg.
func newSupervisor(cfg *config.Config, now func() time.Time) *supervisor.Supervisor {
	opts := supervisor.CatalogOptions(cfg)
	opts.Now = now
	return supervisor.New(opts)
}

func order(name string) int {
	for i, p := range []string{"service/", "api-latency", "redis", "postgres", "dns", "disk/", "tls/", "key/", "logs"} {
		if strings.HasPrefix(name, p) {
			return i
		}
	}
	return 99
}

func postgresURL(cfg *config.Config, getenv func(string) string) (url, pw string, ok bool, err error) {
	d := cfg.Database
	switch {
	case d.URL.IsSet():
		u, err := d.URL.Resolve(getenv)
		if err != nil {
			return "", "", false, fmt.Errorf("resolve database.url: %w", err)
		}
		return u, "", true, nil
	case d.Driver == config.DatabasePostgres:
		pw, err := d.Password.Resolve(getenv)
		if err != nil {
			return "", "", false, fmt.Errorf("resolve database.password: %w", err)
		}
		return store.PostgresURL(d, pw), pw, true, nil
	}
	return "", "", false, nil
}

func failing(name, value, hint string) triage.Check {
	return triage.Check{Name: name, Run: func(context.Context) triage.Result {
		return triage.Result{Status: triage.Fail, Value: value, Hint: hint}
	}}
}
