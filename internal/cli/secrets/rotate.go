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

	"github.com/tars-ops/tarsctl/internal/cli/lifecycle"

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
	SkipVerify    bool
	Username      string
	PasswordStdin bool
	Yes           bool
	DryRun        bool
	Timeout       time.Duration
	Quiet         bool
}

// NewCmdRotate returns `tarsctl secrets rotate`.
func NewCmdRotate(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate <command>",
		Short: "Rotate a secret",
	}
	cmd.AddCommand(NewCmdRotateJWT(f, nil))
	return cmd
}

// NewCmdRotateJWT returns `tarsctl secrets rotate jwt`.
func NewCmdRotateJWT(f *cmdutil.Factory, runF func(context.Context, *RotateJWTOptions) error) *cobra.Command {
	opts := &RotateJWTOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Daemons: func(cfg *config.Config) (Daemons, error) {
		return lifecycle.NewSupervisor(f, cfg)
	}}
	cmd := &cobra.Command{
		Use:   "jwt [--rollback]",
		Short: "Replace the JWT secret and restart the dashboard API",
		Long: heredoc.Doc(`
			Replace the dashboard API's JWT secret — the file auth.jwt_secret_file
			names, or SECRETS_DIR/jwt_secret on the local profile — with 32 new
			random bytes, keep the old one in FILE.previous (0600), and restart the
			dashboard-api daemon tarsctl started, so it signs and verifies with the
			new secret. This is the runbook's immediate cut, for a suspected
			compromise: every token issued before is rejected from then on, and
			users log in again.

			The command checks both itself, unless --skip-verify: before the
			change a valid token is accepted, afterwards that token gets 401 and a
			new token is accepted. With --username and --password-stdin the checks
			are real logins; otherwise they use short-lived tokens it signs with
			the old and the new secret.

			--rollback puts the previous secret back and restarts again.

			A secret set by auth.jwt_secret or TARS_JWT_SECRET is not rewritten:
			change it there. Destructive: needs --yes when not on a terminal.

			EXIT STATUS
			  0  rotated (and verified)
			  1  the restart or a check failed: run with --rollback to go back
			  2  bad usage, or the secret is not kept in a file
		`),
		Example: heredoc.Doc(`
			$ tarsctl secrets rotate jwt --yes
			$ printf '%s\n' "$ADMIN_PASSWORD" | tarsctl secrets rotate jwt --yes --username admin --password-stdin
			$ tarsctl secrets rotate jwt --rollback --yes
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Quiet = f.Globals.Quiet
			if opts.PasswordStdin != (opts.Username != "") {
				return cmdutil.FlagErrorf("--username and --password-stdin go together")
			}
			if !opts.Yes && !opts.DryRun && !opts.IO.CanPrompt() {
				return cmdutil.FlagErrorf("rotating the JWT secret logs everyone out and needs --yes when not on a terminal")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateJWTRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Rollback, "rollback", false, "restore the previous secret")
	fl.BoolVar(&opts.SkipVerify, "skip-verify", false, "do not check the old token is rejected and a new one accepted")
	fl.StringVar(&opts.Username, "username", "", "log in as this user for the checks (password from stdin)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the --username password from stdin")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would be done and stop")
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait for the daemon to stop and to be ready again")
	withK8sTarget(f, cmd, jwtK8s)
	return cmd
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
	st := ui.NewStatus(opts.IO, opts.Quiet)
	d, err := opts.Daemons(cfg)
	if err != nil {
		return err
	}
	status, err := d.Status(ctx, dashboardAPI)
	if err != nil {
		return err
	}
	running := status.State == "running"
	verb := "Rotate"
	if opts.Rollback {
		verb = "Roll back"
	}
	if opts.DryRun {
		st.Info("would %s the JWT secret in %s (the replaced one kept in %s)", strings.ToLower(verb), path, path+secrets.PreviousSuffix)
		if running {
			st.Info("would restart %s (pid %d) and check the old token is rejected", dashboardAPI, status.PID)
		} else {
			st.Info("%s is not running: it will use the new secret when started", dashboardAPI)
		}
		return nil
	}
	if !opts.Yes {
		fmt.Fprintf(opts.IO.ErrOut, "%s the JWT secret in %s? Every session will be logged out. [y/N] ", verb, path)
		var answer string
		_, _ = fmt.Fscanln(opts.IO.In, &answer)
		if answer != "y" && answer != "Y" && answer != "yes" {
			return cmdutil.Failed(errors.New("not rotated: not confirmed"))
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
	verify := running && !opts.SkipVerify
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
	_, now, err := secrets.RotateJWTFile(path, opts.Rollback)
	if err != nil {
		if errors.Is(err, secrets.ErrNoPrevious) {
			return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
		}
		return err
	}
	if opts.Rollback {
		st.Success("Restored the previous JWT secret in %s", path)
	} else {
		st.Success("Wrote a new JWT secret to %s (the old one is in %s)", path, path+secrets.PreviousSuffix)
	}
	back := "run tarsctl secrets rotate jwt --rollback to restore the previous secret"
	if !running {
		st.Info("%s is not running: it will use the new secret when started", dashboardAPI)
		return nil
	}
	if _, err := d.Stop(ctx, dashboardAPI, opts.Timeout); err != nil {
		return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("stop %s: %w", dashboardAPI, err), back))
	}
	if _, err := d.Start(ctx, dashboardAPI, opts.Timeout); err != nil {
		return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("start %s: %w", dashboardAPI, err), back))
	}
	st.Success("Restarted %s", dashboardAPI)
	if !verify {
		return nil
	}
	if err := check.After(ctx, oldToken, now); err != nil {
		return cmdutil.Failed(cmdutil.WithHint(err, back))
	}
	st.Success("Verified: a token issued before is rejected (401), a new one is accepted")
	return nil
}

func dashboardURL(cfg *config.Config) string {
	s, _ := services.Lookup(dashboardAPI)
	return s.URL(cfg)
}
