package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cli/lifecycle"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// redisDaemons are the daemons that connect to Redis.
var redisDaemons = []string{services.DashboardAPI, services.OrchestrationAgent}

// RotateRedisOptions are the inputs of `tarsctl secrets rotate redis-password`.
type RotateRedisOptions struct {
	IO                *iostreams.IOStreams
	Config            func() (*config.Config, error)
	Daemons           func(cfg *config.Config) (Daemons, error)
	AdminUser         string
	AdminPasswordFile string
	Yes               bool
	DryRun            bool
	Timeout           time.Duration
	Quiet             bool
	Output            string
}

// NewCmdRotateRedis returns `tarsctl secrets rotate redis-password`.
func NewCmdRotateRedis(f *cmdutil.Factory, runF func(context.Context, *RotateRedisOptions) error) *cobra.Command {
	opts := &RotateRedisOptions{IO: f.IOStreams, Config: f.Config, Daemons: func(cfg *config.Config) (Daemons, error) {
		return lifecycle.NewSupervisor(f, cfg)
	}}
	cmd := &cobra.Command{
		Use:   "redis-password",
		Short: "Rotate the Redis ACL password with no downtime",
		Long: heredoc.Doc(`
			Give the Redis ACL user the daemons use (redis.username, "default"
			when empty) a new random password, with no moment at which a daemon
			cannot authenticate:

			  1. ACL SETUSER USER >NEW      adds NEW; the old password still works
			  2. write NEW to the file redis.password names (file:PATH), atomically
			  3. running daemons re-read that file for each new connection, so
			     they use NEW from now on without a restart
			  4. AUTH USER NEW and PING on a fresh connection
			  5. ACL SETUSER USER <OLD      removes OLD; open connections stay
			     authenticated
			  6. AUTH USER OLD must now fail with WRONGPASS

			(The runbook's procedure never removes the old password: ACL SETUSER
			>NEW adds one, and ACL DELUSER of another user removes nothing.)

			A failure before step 5 rolls back: NEW is removed from the user and
			the file gets the old password back.

			redis.password must be file:PATH: a literal or env:NAME cannot change
			under running daemons. The ACL commands run as the rotated user with
			the password in the file, or as --admin-user with the password in
			--admin-password-file. Standalone mode only: ACLs are per server.
			--dry-run checks the password and the ACL rights and changes nothing.
			Destructive: needs --yes when not on a terminal.

			EXIT STATUS
			  0  rotated and verified (or, with --dry-run, ready to rotate)
			  1  a step or a check failed (see whether it was rolled back)
			  2  bad usage, or the password is not kept in a file
			  3  Redis could not be reached
			  4  Redis refused the password or the ACL command (NOPERM)
		`),
		Example: heredoc.Doc(`
			$ tarsctl secrets rotate redis-password --dry-run
			$ tarsctl secrets rotate redis-password --yes
			$ tarsctl secrets rotate redis-password --yes --admin-user admin --admin-password-file /run/secrets/redis_admin -o json
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Quiet, opts.Output = f.Globals.Quiet, f.Globals.Output
			if (opts.AdminUser == "") != (opts.AdminPasswordFile == "") {
				return cmdutil.FlagErrorf("--admin-user and --admin-password-file go together")
			}
			if !opts.Yes && !opts.DryRun && !opts.IO.CanPrompt() {
				return cmdutil.FlagErrorf("rotating the Redis password needs --yes when not on a terminal")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateRedisRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.AdminUser, "admin-user", "", "run the ACL commands as this Redis user (default: the rotated user)")
	fl.StringVar(&opts.AdminPasswordFile, "admin-password-file", "", "file holding the --admin-user password")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "check the password and ACL rights, change nothing")
	fl.DurationVar(&opts.Timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}

func rotateRedisRun(ctx context.Context, opts *RotateRedisOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	addr, user, file, err := secrets.RedisTarget(cfg)
	if err != nil {
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	ro := secrets.RedisRotateOptions{Addr: addr, DB: cfg.Redis.DB, User: user, File: file, AdminUser: opts.AdminUser, DryRun: opts.DryRun}
	if opts.AdminPasswordFile != "" {
		if ro.AdminPassword, err = secrets.ReadPasswordFile(opts.AdminPasswordFile); err != nil {
			return cmdutil.FlagErrorf("--admin-password-file: %v", err)
		}
	}
	jsonOut := opts.Output == cmdutil.OutputJSON
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonOut)
	if !opts.Yes && !opts.DryRun {
		fmt.Fprintf(opts.IO.ErrOut, "Rotate the Redis password of %s at %s (file %s)? [y/N] ", user, addr, file)
		var answer string
		_, _ = fmt.Fscanln(opts.IO.In, &answer)
		if answer != "y" && answer != "Y" && answer != "yes" {
			return cmdutil.Failed(errors.New("not rotated: not confirmed"))
		}
	}
	if opts.Daemons != nil {
		d, err := opts.Daemons(cfg)
		if err != nil {
			return err
		}
		ro.Daemons = func(ctx context.Context) (string, error) { return runningRedisDaemons(ctx, cfg, d) }
	}
	ro.Step = func(s secrets.RedisStep) { st.Success("%s", s.Detail) }
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	res, err := secrets.RotateRedisPassword(ctx, ro)
	if err == nil && opts.DryRun {
		st.Info("dry run: would add a new password to %s, write it to %s, and remove the old one", user, file)
	}
	if jsonOut {
		if werr := ui.WriteJSON(opts.IO.Out, res); werr != nil && err == nil {
			err = werr
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, secrets.ErrRedisPasswordNotInFile), errors.Is(err, secrets.ErrRedisUnsupported):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	case errors.Is(err, secrets.ErrRedisPermission):
		return cmdutil.PermissionDenied(err)
	case errors.Is(err, secrets.ErrRedisUnreachable):
		return cmdutil.Unreachable(err)
	default:
		return cmdutil.Failed(err)
	}
}

// runningRedisDaemons says which running daemons will pick up the new
// password: they re-read the file for each new connection.
func runningRedisDaemons(ctx context.Context, cfg *config.Config, d Daemons) (string, error) {
	if !cfg.Redis.Enabled {
		return "no daemon uses Redis (redis.enabled is false)", nil
	}
	var running []string
	for _, name := range redisDaemons {
		s, err := d.Status(ctx, name)
		if err != nil {
			return "", err
		}
		if s.State == "running" {
			running = append(running, fmt.Sprintf("%s (pid %d)", name, s.PID))
		}
	}
	if len(running) == 0 {
		return "no daemon is running; they read the new password when started", nil
	}
	return strings.Join(running, ", ") + " re-read the file for each new connection: no restart needed", nil
}
