package triage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/triage"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// RedisOpener connects to the configured Redis.
type RedisOpener func(ctx context.Context) (*redis.Client, error)

func redisOpener(f *cmdutil.Factory) RedisOpener {
	return func(ctx context.Context) (*redis.Client, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return openRedis(ctx, cfg, f.Getenv)
	}
}

func openRedis(ctx context.Context, cfg *config.Config, getenv func(string) string) (*redis.Client, error) {
	silenceRedisLog()
	if !cfg.Redis.Enabled {
		return nil, cmdutil.WithHint(cmdutil.Failed(errors.New("redis.enabled is false: rate limits and sessions live in the dashboard-api process")),
			"restarting dashboard-api (tarsctl restart dashboard-api) clears them")
	}
	e, err := redisEndpoint(cfg, getenv)
	if errors.Is(err, redisconn.ErrConfig) {
		return nil, cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	if err != nil {
		return nil, err
	}
	c, err := triage.NewRedisClient(e)
	if errors.Is(err, redisconn.ErrNotStandalone) {
		return nil, cmdutil.Failed(fmt.Errorf("%w: triage reads and deletes keys on one server; use redis-cli", err))
	}
	if err != nil {
		return nil, cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		err = fmt.Errorf("connect to redis at %s: %w", e, redisconn.Classify(err))
		if errors.Is(err, redisconn.ErrPermission) {
			return nil, cmdutil.PermissionDenied(err)
		}
		return nil, cmdutil.WithHint(cmdutil.Unreachable(err), "start Redis: redis-server --port 6379 &")
	}
	return c, nil
}

// redisEndpoint is the Redis the configuration describes, with its
// password resolved.
func redisEndpoint(cfg *config.Config, getenv func(string) string) (redisconn.Endpoint, error) {
	pw, err := cfg.Redis.Password.Resolve(getenv)
	if err != nil {
		return redisconn.Endpoint{}, fmt.Errorf("resolve redis.password: %w", err)
	}
	return redisconn.FromConfig(cfg.Redis, pw)
}

// NewCmdRateLimit returns the `tarsctl triage ratelimit` group.
func NewCmdRateLimit(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "ratelimit <command>", Short: "Show or reset rate-limit counters in Redis"}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdRateLimitShow(f, redisOpener(f)), NewCmdRateLimitReset(f, redisOpener(f)))
	return cmd
}

// NewCmdRateLimitShow returns `tarsctl triage ratelimit show`.
func NewCmdRateLimitShow(f *cmdutil.Factory, open RedisOpener) *cobra.Command {
	return &cobra.Command{
		Use:   "show [IP]",
		Short: "Show rate-limit counters",
		Long:  "Show the rate-limit counters of IP (API and login windows), or every rate_limit:* counter, highest first: the runbook's redis-cli GET rate_limit:IP.",
		Example: heredoc.Doc(`
			$ tarsctl triage ratelimit show
			$ tarsctl triage ratelimit show 192.168.1.100 -o json
		`),
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ip := ""
			if len(args) == 1 {
				ip = args[0]
			}
			rows, err := triage.ShowRateLimits(cmd.Context(), c, ip)
			if err != nil {
				return cmdutil.Unreachable(err)
			}
			if f.Globals.Output == cmdutil.OutputJSON {
				return ui.WriteJSON(f.IOStreams.Out, rows)
			}
			t := ui.NewTable(f.IOStreams, "key", "count", "resets in")
			for _, r := range rows {
				t.AddRow(r.Key, strconv.FormatInt(r.Count, 10), r.TTL.Round(time.Second).String())
			}
			return t.Render()
		},
	}
}

// NewCmdRateLimitReset returns `tarsctl triage ratelimit reset`.
func NewCmdRateLimitReset(f *cmdutil.Factory, open RedisOpener) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset IP",
		Short: "Reset the rate-limit counters of an IP",
		Long:  "Delete rate_limit:IP and rate_limit:login:IP (the runbook's redis-cli DEL; emergency only). Other keys are untouched.",
		Example: heredoc.Doc(`
			$ tarsctl triage ratelimit reset 192.168.1.100 --yes
		`),
		Args: cmdutil.ExactArgs(1, "the IP to reset"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.Confirm(f.IOStreams, yes, "resetting the rate limits of "+args[0], "Reset the rate limits of "+args[0]+"?"); err != nil {
				return err
			}
			c, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			n, err := triage.ResetRateLimit(cmd.Context(), c, args[0])
			if err != nil {
				return cmdutil.Unreachable(err)
			}
			if f.Globals.Output == cmdutil.OutputJSON {
				return ui.WriteJSON(f.IOStreams.Out, map[string]any{"ip": args[0], "deleted": n})
			}
			ui.NewStatus(f.IOStreams, f.Globals.Quiet).Success("reset %s: %d counters deleted", args[0], n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// NewCmdSessions returns the `tarsctl triage sessions` group.
func NewCmdSessions(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "sessions <command>", Short: "Invalidate login sessions"}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdRevokeAll(f, redisOpener(f)))
	return cmd
}

// NewCmdRevokeAll returns `tarsctl triage sessions revoke-all`.
func NewCmdRevokeAll(f *cmdutil.Factory, open RedisOpener) *cobra.Command {
	var yes, dryRun bool
	cmd := &cobra.Command{
		Use:   "revoke-all",
		Short: "Invalidate every session without flushing Redis",
		Long: heredoc.Doc(`
			Revoke every refresh token and its family, so that nobody can renew a
			session, and leave every other key (rate limits included) alone, unlike
			the runbook's FLUSHDB. Access tokens already issued stay valid until they
			expire (auth.jwt_expiry); to cut them off at once, rotate the JWT secret.
		`),
		Example: heredoc.Doc(`
			$ tarsctl triage sessions revoke-all --dry-run
			$ tarsctl triage sessions revoke-all --yes
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !dryRun {
				if err := cmdutil.Confirm(f.IOStreams, yes, "revoking every session", "Revoke every session?"); err != nil {
					return err
				}
			}
			c, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			fam, tok, err := triage.RevokeAllSessions(cmd.Context(), c, dryRun)
			if err != nil {
				return cmdutil.Unreachable(err)
			}
			if f.Globals.Output == cmdutil.OutputJSON {
				return ui.WriteJSON(f.IOStreams.Out, map[string]any{"sessions": fam, "refresh_tokens": tok, "dry_run": dryRun})
			}
			verb := "revoked"
			if dryRun {
				verb = "would revoke"
			}
			ui.NewStatus(f.IOStreams, f.Globals.Quiet).Success("%s %d sessions (%d refresh tokens)", verb, fam, tok)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count the sessions, revoke nothing")
	return cmd
}

// quietRedis drops go-redis's own log lines (pool dial retries), which
// would interleave with the command's output; the errors reach the checks.
// Only triage's commands install it: the daemons in this binary keep theirs.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func silenceRedisLog() { redis.SetLogger(quietRedis{}) }
