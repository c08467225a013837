// Package backup implements `tarsctl backup`: create, list, verify,
// restore, prune and status of backups of PostgreSQL, Redis, data
// directories and the configuration, in a repository directory. The work
// is done by internal/backup; this package turns flags and the profile
// into its sources and targets, and its results into output and exit
// codes.
package backup

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ConfigFunc returns the effective configuration and the profile's name.
type ConfigFunc func() (*config.Config, string, error)

// NewCmdBackup returns the `tarsctl backup` command group.
func NewCmdBackup(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup <command>",
		Short: "Back up and restore PostgreSQL, Redis, data directories and configuration",
		Long: heredoc.Doc(`
			Back up T.A.R.S. into a repository directory, check the backups, restore
			them, and keep as many as the retention policy says.

			A backup is a set of parts — PostgreSQL (pg_dump), Redis (an RDB
			snapshot and a portable key dump), directories (tar), the configuration —
			with a manifest of their sizes and SHA-256 checksums. Every backup is
			checked after it is written, and every restore checks the parts it
			restores before it changes anything. Parts are compressed with zstd and,
			with --encrypt, encrypted with AES-256-GCM.

			Repository layout, manifest format and a restore drill: docs/backup.md.
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup create --postgres --redis --repo /var/backups/tars
			$ tarsctl backup list --repo /var/backups/tars
			$ tarsctl backup verify --all --deep --repo /var/backups/tars
			$ tarsctl backup status --max-age 26h --repo /var/backups/tars
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(
		NewCmdCreate(f, nil),
		NewCmdList(f, nil),
		NewCmdVerify(f, nil),
		NewCmdRestore(f, nil),
		NewCmdPrune(f, nil),
		NewCmdStatus(f, nil),
	)
	return cmd
}

// configFrom adapts the factory's configuration for these commands.
func configFrom(f *cmdutil.Factory) ConfigFunc {
	return func() (*config.Config, string, error) {
		if f.Config == nil {
			return nil, "", errors.New("no configuration")
		}
		cfg, err := f.Config()
		if err != nil {
			return nil, "", err
		}
		profile := ""
		if f.ConfigResult != nil {
			if res, _ := f.ConfigResult(); res != nil {
				profile = res.Profile
			}
		}
		return cfg, profile, nil
	}
}

// addRepoFlag adds the --repo flag every verb needs.
func addRepoFlag(cmd *cobra.Command, repo *string) {
	cmd.Flags().StringVar(repo, "repo", "", "repository directory (required)")
	_ = cmd.MarkFlagDirname("repo")
}

func checkRepoFlag(repo string) error {
	if repo == "" {
		return cmdutil.FlagErrorf("--repo is required: the directory that holds the backups")
	}
	return nil
}

// openRepo opens an existing repository.
func openRepo(dir string) (*backup.Repository, error) {
	r, err := backup.Open(dir)
	if err != nil {
		return nil, explain(err, dir)
	}
	return r, nil
}

// completeIDs completes backup ids from the repository named by --repo.
func completeIDs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	dir, _ := cmd.Flags().GetString("repo")
	r, err := backup.Open(dir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	sets, _ := r.List()
	ids := []string{"latest"}
	for _, s := range sets {
		ids = append(ids, s.ID+"\t"+s.Time().UTC().Format(time.RFC3339))
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

// explain gives a domain error its exit code and a hint.
func explain(err error, repo string) error {
	var locked *backup.LockedError
	var tool *backup.ToolError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &locked):
		hint := "another backup or prune is running; wait for it to finish"
		if locked.Holder != nil && locked.Holder.PID > 0 {
			hint = fmt.Sprintf("another backup or prune is running (pid %d); wait for it to finish, or stop it if it hangs (kill %d): the lock is released when it exits",
				locked.Holder.PID, locked.Holder.PID)
		}
		return cmdutil.Failed(cmdutil.WithHint(err, hint))
	case errors.Is(err, backup.ErrToolMissing):
		return cmdutil.Unreachable(err)
	case errors.Is(err, backup.ErrUnreachable):
		return cmdutil.Unreachable(cmdutil.WithHint(err, "check that the server runs and that the profile's host and port point at it: tarsctl config show"))
	case errors.Is(err, backup.ErrAuth):
		return cmdutil.PermissionDenied(cmdutil.WithHint(err, "check the password in the profile (database.password, redis.password) and the user's permissions"))
	case errors.Is(err, backup.ErrNotRepository):
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(err, "check --repo; `tarsctl backup create --repo DIR` creates a repository in a new or empty directory"))
	case errors.Is(err, os.ErrNotExist) && strings.Contains(err.Error(), "open repository"):
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(err, "check --repo; `tarsctl backup create --repo DIR` creates a repository"))
	case errors.Is(err, backup.ErrSetNotFound):
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(err, fmt.Sprintf("run `tarsctl backup list --repo %s` to see the backups", repo)))
	case errors.Is(err, backup.ErrKeyRequired), errors.Is(err, crypto.ErrInvalidKey):
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(err, "pass the key file with --key FILE (repeat it for keys from before a rotation)"))
	case errors.Is(err, backup.ErrTargetNotEmpty):
		return cmdutil.Failed(cmdutil.WithHint(err, "restore into an empty target, or pass --force to overwrite what is there"))
	case errors.Is(err, backup.ErrUnsupported):
		return cmdutil.FlagErrorWrap(err)
	case errors.Is(err, backup.ErrChecksum), errors.Is(err, backup.ErrSizeMismatch), errors.Is(err, backup.ErrMissingPart),
		errors.Is(err, backup.ErrManifest), errors.Is(err, backup.ErrCorrupt), errors.Is(err, backup.ErrUnsafeArchive):
		return cmdutil.Failed(cmdutil.WithHint(err, fmt.Sprintf("this backup is damaged: restore another one, and check them all with `tarsctl backup verify --all --repo %s`", repo)))
	case errors.As(err, &tool):
		return cmdutil.Failed(err)
	}
	return err
}

// loadKeys reads key files into a keyring and warns about key files
// others can read.
func loadKeys(ios *iostreams.IOStreams, paths []string) (*crypto.Keyring, []byte, error) {
	var ring crypto.Keyring
	var first []byte
	for _, p := range paths {
		key, info, err := crypto.LoadKeyFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil, cmdutil.FlagErrorWrap(err)
			}
			return nil, nil, explain(err, "")
		}
		if info.WorldReadable {
			ui.NewStatus(ios, false).Warning("key file %s is readable by every user (mode %04o): chmod 600 %s", p, info.Mode, p)
		}
		if _, err := ring.Add(key); err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = key
		}
	}
	return &ring, first, nil
}

var dirNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,30}$`)

// parseDirFlags parses repeated --dir NAME=PATH values.
func parseDirFlags(vals []string) (map[string]string, []string, error) {
	out := map[string]string{}
	var order []string
	for _, v := range vals {
		name, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, nil, cmdutil.FlagErrorf("invalid --dir %q: want NAME=PATH, for example --dir chroma=/opt/tars/chromadb", v)
		}
		if !dirNamePattern.MatchString(name) {
			return nil, nil, cmdutil.FlagErrorf("invalid --dir name %q: use lower-case letters, digits, - and _", name)
		}
		if _, dup := out[name]; dup {
			return nil, nil, cmdutil.FlagErrorf("--dir %s given twice", name)
		}
		out[name] = path
		order = append(order, name)
	}
	return out, order, nil
}

// postgresConn builds the connection to the profile's database. A
// database.url with a password has it taken out, to travel as PGPASSWORD.
func postgresConn(cfg *config.Config, getenv func(string) string) (backup.PostgresConn, error) {
	d := cfg.Database
	if d.URL.IsSet() {
		raw, err := d.URL.Resolve(getenv)
		if err != nil {
			return backup.PostgresConn{}, cmdutil.FlagErrorf("database.url: %v", err)
		}
		u, pw := backup.SplitPassword(raw)
		if pw == "" && d.Password.IsSet() {
			if pw, err = d.Password.Resolve(getenv); err != nil {
				return backup.PostgresConn{}, cmdutil.FlagErrorf("database.password: %v", err)
			}
		}
		return backup.PostgresConn{URL: u, Password: pw}, nil
	}
	if d.Driver != config.DatabasePostgres {
		return backup.PostgresConn{}, cmdutil.FlagErrorf("database.driver is %s, not postgres: the SQLite file %s is in the data directory; back it up with --dir data=%s (or --all)",
			d.Driver, d.Path, cfg.Paths.DataDirPath())
	}
	pw, err := d.Password.Resolve(getenv)
	if err != nil {
		return backup.PostgresConn{}, cmdutil.FlagErrorf("database.password: %v", err)
	}
	return backup.PostgresConn{URL: backup.PostgresURL(d.Host, d.Port, d.User, d.Name, d.SSLMode), Password: pw}, nil
}

// redisConn builds the connection to the profile's Redis.
func redisConn(cfg *config.Config, getenv func(string) string) (backup.RedisConn, error) {
	r := cfg.Redis
	if !r.Enabled {
		return backup.RedisConn{}, cmdutil.FlagErrorf("redis.enabled is false: the daemons keep their state in process, and there is no Redis to back up")
	}
	pw, err := r.Password.Resolve(getenv)
	if err != nil {
		return backup.RedisConn{}, cmdutil.FlagErrorf("redis.password: %v", err)
	}
	e, err := redisconn.FromConfig(r, pw)
	if err != nil {
		return backup.RedisConn{}, cmdutil.FlagErrorWrap(err)
	}
	server, err := e.Node("")
	if err != nil {
		return backup.RedisConn{}, cmdutil.FlagErrorWrap(fmt.Errorf("%w: %w; backups read one server: point redis.host and redis.port at the master (--set redis.mode=standalone --set redis.host=HOST)",
			backup.ErrUnsupported, err))
	}
	return backup.RedisConn{Server: server}, nil
}

// sizeCell shows a size: human on a terminal, bytes for scripts.
func sizeCell(ios *iostreams.IOStreams, n int64) string {
	if ios.IsStdoutTTY() {
		return ui.HumanBytes(n)
	}
	return strconv.FormatInt(n, 10)
}

// partNames lists a set's part names.
func partNames(m *backup.Manifest) []string {
	names := []string{}
	if m == nil {
		return names
	}
	for _, p := range m.Parts {
		names = append(names, p.Name)
	}
	return names
}
