package backup

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// RestoreOptions are the inputs of `tarsctl backup restore`.
type RestoreOptions struct {
	IO     *iostreams.IOStreams
	Config ConfigFunc
	Getenv func(string) string

	Repo     string
	ID       string
	Postgres bool
	Redis    bool
	RedisRDB string
	Dirs     []string
	ConfigTo string
	Keys     []string
	Force    bool
	NoOwner  bool
	Yes      bool
	DryRun   bool

	Output string
	Quiet  bool
}

// NewCmdRestore returns `tarsctl backup restore`.
func NewCmdRestore(f *cmdutil.Factory, runF func(context.Context, *RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{IO: f.IOStreams, Config: configFrom(f), Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "restore ID --repo DIR [--postgres] [--redis] [--dir NAME=PATH]... [flags]",
		Short: "Restore parts of a backup",
		Long: heredoc.Doc(`
			Restore the chosen parts of backup ID ("latest", or a unique prefix of
			an id will do):

			--postgres        into the profile's database, with pg_restore (or psql
			                  for --format sql dumps), in one transaction that stops
			                  at the first error. --no-owner skips ownership and
			                  privileges, for a server without the original roles.
			--redis           the key dump, into the profile's Redis database
			                  (redis.db), keeping each key's expiry time; keys that
			                  expired since the backup are not restored.
			--redis-rdb FILE  the RDB snapshot, written to FILE: put it in a
			                  stopped Redis's data directory as dump.rdb to restore
			                  the whole server.
			--dir NAME=PATH   part dir-NAME into directory PATH.
			--config-to FILE  the saved configuration, written to FILE (mode 0600).

			To restore somewhere else than the profile says, override it:
			--set database.name=tars_drill, --set redis.db=9.

			Nothing is changed unless everything can be: every target is checked
			first (reachable, and empty — no tables, no keys, no files — unless
			--force), then every chosen part is read in full and checked against the
			manifest's SHA-256, decrypted, and parsed; a directory archive with an
			absolute path, "..", or a symlink leading out of the target is refused.
			Only then is anything restored. With --force, what the backup holds
			replaces what is there, and other data stays.

			Asks for confirmation on a terminal; elsewhere needs --yes. --dry-run
			says what would be restored where, checks the targets, and stops.

			EXIT STATUS
			  0    every chosen part was restored
			  1    the backup failed its checks (nothing was restored), a target is
			       not empty, or a restore program failed
			  2    bad usage: no such backup or part, no --yes without a terminal,
			       a missing key
			  3    PostgreSQL or Redis could not be reached, or pg_restore is missing
			  4    the server refused the credentials
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup restore latest --postgres --repo /var/backups/tars
			$ tarsctl backup restore 20260128-020000 --postgres --redis --yes --repo /var/backups/tars
			$ tarsctl backup restore latest --dir chroma=/opt/tars/chromadb --dry-run --repo /var/backups/tars
			$ tarsctl backup restore latest --postgres --set database.name=tars_drill --yes --repo /var/backups/tars
		`),
		Args:              cmdutil.ExactArgs(1, "a backup ID (or latest)"),
		ValidArgsFunction: completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			if !opts.Postgres && !opts.Redis && opts.RedisRDB == "" && len(opts.Dirs) == 0 && opts.ConfigTo == "" {
				return cmdutil.FlagErrorf("choose what to restore: --postgres, --redis, --redis-rdb FILE, --dir NAME=PATH or --config-to FILE")
			}
			if _, _, err := parseDirFlags(opts.Dirs); err != nil {
				return err
			}
			if opts.NoOwner && !opts.Postgres {
				return cmdutil.FlagErrorf("--no-owner applies to --postgres")
			}
			if !opts.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, "restoring", "--dry-run shows what it would do"); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return restoreRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	addRepoFlag(cmd, &opts.Repo)
	fl.BoolVar(&opts.Postgres, "postgres", false, "restore the PostgreSQL part into the profile's database")
	fl.BoolVar(&opts.Redis, "redis", false, "restore the Redis key dump into the profile's Redis")
	fl.StringVar(&opts.RedisRDB, "redis-rdb", "", "write the Redis RDB snapshot to `FILE`")
	fl.StringArrayVar(&opts.Dirs, "dir", nil, "restore part dir-NAME into PATH (repeatable): NAME=PATH")
	fl.StringVar(&opts.ConfigTo, "config-to", "", "write the saved configuration to `FILE`")
	fl.StringArrayVar(&opts.Keys, "key", nil, "key file to decrypt with (repeatable; default: encryption.key_file)")
	fl.BoolVar(&opts.Force, "force", false, "restore into targets that hold data, replacing what the backup has")
	fl.BoolVar(&opts.NoOwner, "no-owner", false, "PostgreSQL: do not restore object owners and privileges")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would be restored where, check the targets, and stop")
	_ = cmd.MarkFlagFilename("key")
	_ = cmd.MarkFlagFilename("redis-rdb")
	_ = cmd.MarkFlagFilename("config-to")
	return cmd
}

type restoredJSON struct {
	Name    string `json:"name"`
	Target  string `json:"target"`
	Entries int64  `json:"entries"`
	Note    string `json:"note,omitempty"`
}

func restoreRun(ctx context.Context, opts *RestoreOptions) error {
	r, err := openRepo(opts.Repo)
	if err != nil {
		return err
	}
	s, err := r.Find(opts.ID)
	if err != nil {
		return explain(err, opts.Repo)
	}
	if s.Manifest == nil {
		return explain(s.Err, opts.Repo)
	}
	targets, err := buildTargets(opts, s)
	if err != nil {
		return err
	}
	var keys *crypto.Keyring
	if paths := defaultKeys(opts.Keys, opts.Config); len(paths) > 0 {
		if keys, _, err = loadKeys(opts.IO, paths); err != nil {
			return err
		}
	}
	jsonMode := opts.Output == cmdutil.OutputJSON
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonMode)
	var names []string
	for name := range targets {
		names = append(names, name)
	}
	slices.Sort(names)
	if opts.DryRun {
		var problems []string
		for _, name := range names {
			part, _ := s.Manifest.Part(name)
			t := targets[name]
			verdict := "ready"
			if err := t.Prepare(ctx); err != nil {
				verdict = err.Error()
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			}
			if jsonMode {
				_ = ui.WriteJSONLine(opts.IO.Out, struct {
					Type   string `json:"type"`
					ID     string `json:"id"`
					Part   string `json:"part"`
					Size   int64  `json:"size"`
					Target string `json:"target"`
					Ready  bool   `json:"ready"`
					Result string `json:"result"`
				}{"plan", s.ID, name, part.Size, t.String(), verdict == "ready", verdict})
				continue
			}
			fmt.Fprintf(opts.IO.Out, "%s\t%s\t%s\t%s\n", name, sizeCell(opts.IO, part.Size), t, verdict)
		}
		if len(problems) > 0 {
			return cmdutil.Failed(fmt.Errorf("dry run: %s", strings.Join(problems, "; ")))
		}
		st.Info("dry run: nothing restored")
		return nil
	}
	if !opts.Yes {
		var what []string
		for _, name := range names {
			what = append(what, name+" into "+targets[name].String())
		}
		if err := cmdutil.Confirm(opts.IO, false, "restoring backup "+s.ID,
			fmt.Sprintf("Restore backup %s (%s): %s?", s.ID, s.Time().UTC().Format(time.RFC3339), strings.Join(what, ", "))); err != nil {
			return err
		}
	}
	p := ui.NewProgress(opts.IO, jsonMode, opts.Quiet)
	done, err := r.Restore(ctx, s, backup.RestoreOptions{Targets: targets, Keys: keys, Progress: p})
	p.Done()
	for _, d := range done {
		msg := fmt.Sprintf("Restored %s into %s", d.Name, d.Target)
		if d.Note != "" {
			msg += ": " + d.Note
		}
		st.Success("%s", msg)
	}
	if err != nil {
		return explain(err, opts.Repo)
	}
	if jsonMode {
		parts := []restoredJSON{}
		for _, d := range done {
			parts = append(parts, restoredJSON{Name: d.Name, Target: d.Target, Entries: d.Entries, Note: d.Note})
		}
		return ui.WriteJSONLine(opts.IO.Out, struct {
			Type  string         `json:"type"`
			ID    string         `json:"id"`
			Parts []restoredJSON `json:"parts"`
		}{"summary", s.ID, parts})
	}
	return nil
}

// buildTargets turns the flags and the profile into restore targets, by
// part name.
func buildTargets(opts *RestoreOptions, s *backup.Set) (map[string]backup.Target, error) {
	targets := map[string]backup.Target{}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if opts.Postgres || opts.Redis {
		cfg, _, err := opts.Config()
		if err != nil {
			return nil, err
		}
		if opts.Postgres {
			conn, err := postgresConn(cfg, getenv)
			if err != nil {
				return nil, err
			}
			targets["postgres"] = &backup.PostgresTarget{Conn: conn, Force: opts.Force, NoOwner: opts.NoOwner}
		}
		if opts.Redis {
			conn, err := redisConn(cfg, getenv)
			if err != nil {
				return nil, err
			}
			targets["redis-keys"] = &backup.RedisKeysTarget{Conn: conn, Force: opts.Force}
		}
	}
	if opts.RedisRDB != "" {
		targets["redis-rdb"] = &backup.FileTarget{PartKind: backup.KindRedisRDB, Path: opts.RedisRDB, Force: opts.Force}
	}
	if opts.ConfigTo != "" {
		targets["config"] = &backup.FileTarget{PartKind: backup.KindConfig, Path: opts.ConfigTo, Force: opts.Force}
	}
	dirs, order, _ := parseDirFlags(opts.Dirs)
	for _, name := range order {
		targets["dir-"+name] = &backup.DirTarget{Path: dirs[name], Force: opts.Force, SameOwner: os.Geteuid() == 0}
	}
	for name := range targets {
		if _, ok := s.Manifest.Part(name); !ok {
			return nil, cmdutil.FlagErrorf("backup %s has no part %s; it has %s", s.ID, name, strings.Join(partNames(s.Manifest), ", "))
		}
	}
	return targets, nil
}
