package secrets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// redisDaemons are the daemons that connect to Redis: those whose catalog
// entry says they use it.
func redisDaemons() []string {
	var out []string
	for _, e := range services.All() {
		if e.Uses(services.ServerRedis) {
			out = append(out, e.Name)
		}
	}
	return out
}

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

	// With --target k8s.
	Target    cmdutil.TargetFlags
	Runner    func() (k8srunner.Runner, error)
	RedisAddr string
	RedisUser string
}

// NewCmdRotateRedis returns `tarsctl secrets rotate redis-password`.
func NewCmdRotateRedis(f *cmdutil.Factory, runF func(context.Context, *RotateRedisOptions) error) *cobra.Command {
	opts := &RotateRedisOptions{IO: f.IOStreams, Config: f.Config, Runner: cmdutil.K8sRunner, Daemons: func(cfg *config.Config) (Daemons, error) {
		return cmdutil.NewSupervisor(f, cfg)
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

			With --target k8s the password is the one in the Kubernetes Secret
			tars-redis (key password), which the chart mounts as the daemons'
			redis_password file. Step 2 writes the new password there (the old
			one kept under password.previous) and step 3 gives every Deployment
			that mounts the Secret a rolling restart, watched until rolled out
			(--timeout, default 5m): the old pods keep working with the old
			password while the new ones start with the new. --redis-addr is the
			Redis server as this host reaches it (for example through kubectl
			port-forward svc/redis 6379), --redis-user the ACL user the daemons
			use. A failure before the old password is removed rolls back: the
			Secret gets the old password again and the pods restart once more
			(waiting at least 5m), then the new password is removed. Should that
			restore fail, the new password stays valid beside the old one so no
			pod is locked out; it is under password.previous in the Secret.
			--namespace, --kube-context and --kubeconfig pick the cluster; the work
			runs in the tarsctl-k8s companion binary.

			EXIT STATUS
			  0  rotated and verified (or, with --dry-run, ready to rotate)
			  1  a step or a check failed (see whether it was rolled back)
			  2  bad usage, or the password is not kept in a file
			  3  Redis or the Kubernetes API could not be reached
			  4  Redis refused the password or the ACL command (NOPERM), or the
			     Kubernetes API refused the credentials
			  6  a rollout did not finish within --timeout (rolled back)
		`),
		Example: heredoc.Doc(`
			$ tarsctl secrets rotate redis-password --dry-run
			$ tarsctl secrets rotate redis-password --yes
			$ tarsctl secrets rotate redis-password --yes --admin-user admin --admin-password-file /run/secrets/redis_admin -o json

			# Kubernetes, with the Redis service forwarded to this host
			$ kubectl -n tars port-forward svc/redis 6379:6379 &
			$ tarsctl secrets rotate redis-password --target k8s -n tars --redis-addr 127.0.0.1:6379 --redis-user tars --yes
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Quiet, opts.Output = f.Globals.Quiet, f.Globals.Output
			if (opts.AdminUser == "") != (opts.AdminPasswordFile == "") {
				return cmdutil.FlagErrorf("--admin-user and --admin-password-file go together")
			}
			isK8s, err := opts.Target.K8s(cmd)
			if err != nil {
				return err
			}
			if isK8s {
				if opts.RedisAddr == "" {
					return cmdutil.FlagErrorf("--target k8s needs --redis-addr HOST:PORT: the Redis server as this host reaches it (for example through kubectl port-forward)")
				}
				if _, _, err := net.SplitHostPort(opts.RedisAddr); err != nil {
					return cmdutil.FlagErrorf("--redis-addr %q: want HOST:PORT", opts.RedisAddr)
				}
				if !cmd.Flags().Changed("timeout") {
					opts.Timeout = k8sapi.DefaultRolloutTimeout
				}
			} else {
				for _, name := range []string{"redis-addr", "redis-user"} {
					if cmd.Flags().Changed(name) {
						return cmdutil.FlagErrorf("--%s is for --target k8s; the local target reads redis.host, redis.port and redis.username from the configuration", name)
					}
				}
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if !opts.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, "rotating the Redis password"); err != nil {
					return err
				}
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
	fl.DurationVar(&opts.Timeout, "timeout", time.Minute, "give up after this long (with --target k8s: wait this long for each rollout, default 5m)")
	opts.Target.AddTargetFlags(cmd)
	fl.StringVar(&opts.RedisAddr, "redis-addr", "", "with --target k8s: the Redis server as HOST:PORT")
	fl.StringVar(&opts.RedisUser, "redis-user", "default", "with --target k8s: the ACL user the daemons use")
	return cmd
}

func rotateRedisRun(ctx context.Context, opts *RotateRedisOptions) error {
	jsonOut := opts.Output == cmdutil.OutputJSON
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonOut)
	var ro secrets.RedisRotateOptions
	if opts.Target.Target == cmdutil.TargetK8s {
		r, err := opts.Runner()
		if err != nil {
			return err
		}
		ro = secrets.RedisRotateOptions{Redis: redisconn.Endpoint{Addrs: []string{opts.RedisAddr}}, User: opts.RedisUser, Store: &k8sPasswordStore{
			runner: r, target: opts.Target.Conn, timeout: opts.Timeout, progress: cmdutil.RolloutPrinter(st),
		}}
	} else {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		server, user, file, err := secrets.RedisTarget(cfg)
		if err != nil {
			return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
		}
		store := &secrets.FileStore{Path: file}
		if opts.Daemons != nil {
			d, err := opts.Daemons(cfg)
			if err != nil {
				return err
			}
			store.Daemons = func(ctx context.Context) (string, error) { return runningRedisDaemons(ctx, cfg, d) }
		}
		ro = secrets.RedisRotateOptions{Redis: server, User: user, Store: store}
		// The whole rotation is bounded; on Kubernetes each rollout is.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	ro.AdminUser, ro.DryRun = opts.AdminUser, opts.DryRun
	if opts.AdminPasswordFile != "" {
		pw, err := secrets.ReadPasswordFile(opts.AdminPasswordFile)
		if err != nil {
			return cmdutil.FlagErrorf("--admin-password-file: %v", err)
		}
		ro.AdminPassword = pw
	}
	if !opts.DryRun {
		if err := cmdutil.Confirm(opts.IO, opts.Yes, "rotating the Redis password",
			fmt.Sprintf("Rotate the Redis password of %s at %s (%s)?", ro.User, ro.Redis, ro.Store)); err != nil {
			return err
		}
	}
	ro.Step = func(s secrets.RedisStep) { st.Success("%s", s.Detail) }
	res, err := secrets.RotateRedisPassword(ctx, ro)
	if err == nil && opts.DryRun {
		st.Info("dry run: would add a new password to %s, write it to %s, and remove the old one", ro.User, ro.Store)
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
	case opts.Target.Target != cmdutil.TargetK8s:
		return cmdutil.Failed(err)
	}
	err = cmdutil.ClassifyK8s(err)
	if addedNotRemoved(res) && !res.RolledBack {
		err = cmdutil.WithHint(err, fmt.Sprintf("both passwords may be valid now: the Secret keeps the other under %s%s; once every pod runs with the one under %s, remove the other with ACL SETUSER %s <PASSWORD",
			secrets.K8sRedisKey, k8sapi.PreviousSuffix, secrets.K8sRedisKey, ro.User))
	}
	return err
}

// addedNotRemoved: the new password was added and the old one not yet
// removed, so a failure that was not rolled back leaves both valid.
func addedNotRemoved(res secrets.RedisRotation) bool {
	added := false
	for _, s := range res.Steps {
		switch s.Name {
		case secrets.StepRedisAddNew:
			added = true
		case secrets.StepRedisRemoveOld:
			return false
		}
	}
	return added
}

// runningRedisDaemons says which running daemons will pick up the new
// password: they re-read the file for each new connection.
func runningRedisDaemons(ctx context.Context, cfg *config.Config, d Daemons) (string, error) {
	if !cfg.Redis.Enabled {
		return "no daemon uses Redis (redis.enabled is false)", nil
	}
	var running []string
	for _, name := range redisDaemons() {
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
