package secrets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/supervisor"
	"github.com/tars-ops/tarsctl/internal/ui"
)

const dashboardAPI = "dashboard-api"

// Daemons is what the rotation needs from the local supervisor.
type Daemons interface {
	Status(ctx context.Context, service string) (supervisor.Status, error)
	Stop(ctx context.Context, service string, timeout time.Duration) (supervisor.StopResult, error)
	Start(ctx context.Context, service string, timeout time.Duration) (supervisor.StartResult, error)
}

// RotateJWTOptions are the inputs of `tarsctl secrets rotate jwt`.
type RotateJWTOptions struct {
	IO            *iostreams.IOStreams
	Config        func() (*config.Config, error)
	Getenv        func(string) string
	Daemons       func(cfg *config.Config) (Daemons, error)
	Rollback      bool
	Grace         time.Duration
	SkipVerify    bool
	Username      string
	PasswordStdin bool
	Yes           bool
	DryRun        bool
	Timeout       time.Duration
	Quiet         bool
	Output        string
	Now           func() time.Time
}

// NewCmdRotate returns `tarsctl secrets rotate`.
func NewCmdRotate(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate <command>",
		Short: "Rotate a secret",
	}
	cmd.AddCommand(NewCmdRotateJWT(f, nil), NewCmdRotateRedis(f, nil))
	return cmd
}

// NewCmdRotateJWT returns `tarsctl secrets rotate jwt`.
func NewCmdRotateJWT(f *cmdutil.Factory, runF func(context.Context, *RotateJWTOptions) error) *cobra.Command {
	opts := &RotateJWTOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: time.Now, Daemons: func(cfg *config.Config) (Daemons, error) {
		return cmdutil.NewSupervisor(f, cfg)
	}}
	cmd := &cobra.Command{
		Use:   "jwt [--grace DURATION | --rollback]",
		Short: "Replace the JWT secret and restart the daemons that use it",
		Long: heredoc.Doc(`
			Replace the dashboard API's JWT secret — the file auth.jwt_secret_file
			names, or SECRETS_DIR/jwt_secret on the local profile — with 32 new
			random bytes, keep the old one in FILE.previous (0600), and restart the
			daemons tarsctl started that sign or verify with it (orchestration-agent,
			hypersync, then dashboard-api), so they use the new secret.

			By default this is the runbook's immediate cut, for a suspected
			compromise: every token issued before is rejected from then on (so is
			any secret an earlier --grace rotation still honoured), and users log
			in again.

			--grace DURATION is the scheduled rotation that logs nobody out: the
			daemons sign with the new secret and still accept tokens signed with
			the old one until DURATION from now. Tokens carry the id of their
			secret (the kid header), so each is checked against one secret. Once
			the grace period ends the old secret verifies nothing, and the next
			daemon start or rotation removes it from FILE.previous. Make DURATION
			at least auth.jwt_expiry, so every token issued before can live out
			its life.

			The command checks itself, unless --skip-verify: before the change a
			valid token is accepted; afterwards a new token is accepted, and the
			token from before gets 401 (immediate cut) or is still accepted
			(--grace). With --username and --password-stdin the checks are real
			logins; otherwise they use short-lived tokens it signs with the old
			and the new secret.

			--rollback puts the previous secret back and restarts again; after a
			--grace rotation it works until the grace period ends.

			A secret set by auth.jwt_secret or TARS_JWT_SECRET is not rewritten:
			change it there. Destructive: needs --yes when not on a terminal.

			EXIT STATUS
			  0  rotated (and verified)
			  1  the restart or a check failed: run with --rollback to go back
			  2  bad usage, or the secret is not kept in a file
		`),
		Example: heredoc.Doc(`
			$ tarsctl secrets rotate jwt --yes
			$ tarsctl secrets rotate jwt --grace 24h --yes
			$ printf '%s\n' "$ADMIN_PASSWORD" | tarsctl secrets rotate jwt --yes --username admin --password-stdin
			$ tarsctl secrets rotate jwt --rollback --yes
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Quiet, opts.Output = f.Globals.Quiet, f.Globals.Output
			if opts.Grace < 0 {
				return cmdutil.FlagErrorf("--grace must not be negative")
			}
			if opts.PasswordStdin != (opts.Username != "") {
				return cmdutil.FlagErrorf("--username and --password-stdin go together")
			}
			if !opts.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, jwtAction); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateJWTRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Rollback, "rollback", false, "restore the previous secret")
	fl.DurationVar(&opts.Grace, "grace", 0, "keep accepting tokens signed with the old secret for this long (0: immediate cut)")
	fl.BoolVar(&opts.SkipVerify, "skip-verify", false, "do not check the old token is rejected and a new one accepted")
	fl.StringVar(&opts.Username, "username", "", "log in as this user for the checks (password from stdin)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the --username password from stdin")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would be done and stop")
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait for the daemon to stop and to be ready again")
	withK8sTarget(f, cmd, jwtK8s)
	return cmd
}

// jwtAction names the JWT rotation in confirmation errors.
const jwtAction = "rotating the JWT secret (it changes what every daemon accepts)"

// jwtDaemons are the daemons that sign or verify with the JWT secret
// (every daemon of the service catalog checks tokens), in the order they
// restart: the verifiers of service tokens first, so that during a
// graceful rotation each one that comes back accepts both secrets before
// the dashboard API starts signing with the new one.
func jwtDaemons() []string {
	var out []string
	for _, name := range services.Names() {
		if name != dashboardAPI {
			out = append(out, name)
		}
	}
	return append(out, dashboardAPI)
}

// rotateJWTResult is the -o json document.
type rotateJWTResult struct {
	File        string   `json:"file"`
	Rollback    bool     `json:"rollback"`
	DryRun      bool     `json:"dry_run"`
	OldKeyID    string   `json:"old_kid,omitempty"`
	NewKeyID    string   `json:"new_kid,omitempty"`
	VerifyUntil string   `json:"old_verifies_until,omitempty"`
	Dropped     int      `json:"dropped_previous"`
	Restarted   []string `json:"restarted"`
	Verified    bool     `json:"verified"`
}

func rotateJWTRun(ctx context.Context, opts *RotateJWTOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	path, err := secrets.JWTSecretPath(cfg, opts.Getenv)
	if err != nil {
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	d, err := opts.Daemons(cfg)
	if err != nil {
		return err
	}
	var running []string
	pids := map[string]int{}
	for _, name := range jwtDaemons() {
		status, err := d.Status(ctx, name)
		if err != nil {
			return err
		}
		if status.State == "running" {
			running = append(running, name)
			pids[name] = status.PID
		}
	}
	apiRunning := pids[dashboardAPI] != 0
	res := rotateJWTResult{File: path, Rollback: opts.Rollback, DryRun: opts.DryRun, Restarted: []string{}}
	verb := "Rotate"
	if opts.Rollback {
		verb = "Roll back"
	}
	if opts.DryRun {
		st.Info("would %s the JWT secret in %s (the replaced one kept in %s)", strings.ToLower(verb), path, path+secrets.PreviousSuffix)
		if opts.Grace > 0 {
			st.Info("tokens signed with the old secret would be accepted until %s", now().Add(opts.Grace).UTC().Format(time.RFC3339))
		} else {
			st.Info("tokens signed with the old secret (or any earlier one) would be rejected")
		}
		for _, name := range running {
			st.Info("would restart %s (pid %d)", name, pids[name])
		}
		if !apiRunning {
			st.Info("%s is not running: it will use the new secret when started", dashboardAPI)
		}
		if opts.Output == cmdutil.OutputJSON {
			return ui.WriteJSON(opts.IO.Out, res)
		}
		return nil
	}
	if !opts.Yes {
		what := "Every session will be logged out."
		if opts.Grace > 0 {
			what = fmt.Sprintf("Tokens issued before stay valid for %s.", opts.Grace)
		}
		if err := cmdutil.Confirm(opts.IO, false, jwtAction, fmt.Sprintf("%s the JWT secret in %s? %s", verb, path, what)); err != nil {
			return err
		}
	}
	check := secrets.JWTCheck{BaseURL: dashboardURL(cfg), Username: opts.Username}
	if opts.PasswordStdin {
		line, err := bufio.NewReader(io.LimitReader(opts.IO.In, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		if check.Password = strings.TrimRight(line, "\r\n"); check.Password == "" {
			return cmdutil.FlagErrorf("--password-stdin: stdin held no password")
		}
	}
	verify := apiRunning && !opts.SkipVerify
	var oldToken string
	if verify {
		current, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read JWT secret: %w", err)
		}
		if oldToken, err = check.Before(ctx, []byte(strings.TrimRight(string(current), "\r\n"))); err != nil {
			return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("check before the rotation: %w; nothing was changed", err), "pass --skip-verify to rotate without the checks"))
		}
	}
	rot, err := secrets.RotateJWT(path, secrets.JWTRotateOptions{Rollback: opts.Rollback, Grace: opts.Grace, Now: now()})
	if err != nil {
		if errors.Is(err, secrets.ErrNoPrevious) {
			return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
		}
		return err
	}
	res.OldKeyID, res.NewKeyID, res.Dropped = rot.WasKeyID, rot.NowKeyID, rot.Dropped
	if opts.Rollback {
		st.Success("Restored the previous JWT secret in %s (kid %s)", path, rot.NowKeyID)
	} else {
		st.Success("Wrote a new JWT secret to %s (kid %s; the old one, kid %s, is in %s)", path, rot.NowKeyID, rot.WasKeyID, path+secrets.PreviousSuffix)
	}
	if !rot.VerifyUntil.IsZero() {
		res.VerifyUntil = rot.VerifyUntil.UTC().Format(time.RFC3339)
		st.Info("tokens signed with kid %s are accepted until %s", rot.WasKeyID, res.VerifyUntil)
	}
	if rot.Dropped > 0 {
		st.Info("removed %d previous secret(s) that no longer verify", rot.Dropped)
	}
	back := "run tarsctl secrets rotate jwt --rollback to restore the previous secret"
	for _, name := range running {
		if _, err := d.Stop(ctx, name, opts.Timeout); err != nil {
			return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("stop %s: %w", name, err), back))
		}
		if _, err := d.Start(ctx, name, opts.Timeout); err != nil {
			return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("start %s: %w", name, err), back))
		}
		res.Restarted = append(res.Restarted, name)
		st.Success("Restarted %s", name)
	}
	if !apiRunning {
		st.Info("%s is not running: it will use the new secret when started", dashboardAPI)
	}
	if verify {
		if opts.Grace > 0 && !opts.Rollback {
			err = check.AfterGrace(ctx, oldToken, rot.Now, rot.VerifyUntil, now)
		} else {
			err = check.After(ctx, oldToken, rot.Now)
		}
		if err != nil {
			return cmdutil.Failed(cmdutil.WithHint(err, back))
		}
		res.Verified = true
		if opts.Grace > 0 && !opts.Rollback {
			st.Success("Verified: a token issued before is still accepted, a new one is accepted")
		} else {
			st.Success("Verified: a token issued before is rejected (401), a new one is accepted")
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	return nil
}

func dashboardURL(cfg *config.Config) string {
	s, _ := services.Lookup(dashboardAPI)
	return s.URL(cfg)
}
