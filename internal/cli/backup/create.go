package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// CreateOptions are the inputs of `tarsctl backup create`.
type CreateOptions struct {
	IO     *iostreams.IOStreams
	Config ConfigFunc
	Getenv func(string) string
	Now    func() time.Time

	Repo           string
	All            bool
	Postgres       bool
	Format         string // custom or sql
	Redis          bool
	Dirs           []string // NAME=PATH
	IncludeConfig  bool
	IncludeSecrets bool
	Encrypt        bool
	EncryptSet     bool // --encrypt or --no-encrypt was given
	Key            string
	Tags           []string
	Compression    string

	Output string
	Quiet  bool
}

// NewCmdCreate returns `tarsctl backup create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Config: configFrom(f), Getenv: f.Getenv, Now: f.Now}
	var noEncrypt bool
	cmd := &cobra.Command{
		Use:   "create --repo DIR [--postgres] [--redis] [--dir NAME=PATH]... [--include-config] [flags]",
		Short: "Back up PostgreSQL, Redis, directories and the configuration",
		Long: heredoc.Doc(`
			Write a new backup set into the repository: one part per source, a
			manifest with each part's size and SHA-256, and a SHA256SUMS file. The
			repository is created if the directory is new or empty.

			--postgres   the profile's database with pg_dump: its custom format
			             (--format custom, the default; restored with pg_restore)
			             or plain SQL compressed with zstd (--format sql). pg_dump
			             must be installed; the one matching the server's major
			             version in /usr/lib/postgresql/N/bin is preferred.
			--redis      the profile's Redis, twice: an RDB snapshot of the whole
			             server, fetched over the network as redis-cli --rdb does,
			             and a key dump of redis.db (DUMP and PTTL per key) that
			             restores into any running Redis of the same or a newer
			             version. Standalone Redis only.
			--dir N=P    directory P as tar, part "dir-N": modes, owners and
			             modification times kept; a symlink pointing out of the
			             tree fails the backup; sockets and FIFOs are skipped.
			             With database.driver sqlite, the SQLite file is in the
			             data directory: --dir data=DATA_DIR covers it.
			--include-config
			             the effective configuration as a config file, secrets
			             redacted; --include-secrets writes them too, and is allowed
			             only with --encrypt.
			--all        everything the profile has: PostgreSQL (driver postgres),
			             Redis (when enabled), the data directory and the
			             configuration.

			Parts are compressed with zstd on every core (pg_dump's custom format
			compresses itself; --compression fast, default or max picks the level)
			and, with --encrypt, encrypted with AES-256-GCM under the key in
			--key or encryption.key_file (64 hex digits, as openssl rand -hex 32
			writes). --encrypt is on when encryption.enabled is true in the profile;
			--no-encrypt turns it off.

			The set is written under a temporary name and appears only once every
			part is written and checked: a backup that fails or is killed never
			leaves a set that looks complete, and the next run removes what it left.
			A lock keeps two backups, or a backup and a prune, from running at once;
			the lock of a killed backup is taken over.

			With --quiet nothing is printed on success. With -o json, stdout is JSON
			Lines: {"type":"status"} progress lines and a final {"type":"summary"}.

			EXIT STATUS
			  0    the backup was written and checked
			  1    it failed: a source failed (pg_dump exited non-zero, say), the
			       check after writing failed, or the repository is locked
			  2    bad usage: flags, --repo is not a repository, a key file
			  3    PostgreSQL or Redis could not be reached, or pg_dump is missing
			  4    the server refused the credentials
			  130  interrupted (nothing is left that looks like a backup)
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup create --postgres --redis --repo /var/backups/tars
			$ tarsctl backup create --all --encrypt --key /etc/tars/backup.key --repo /var/backups/tars
			$ tarsctl backup create --dir chroma=/opt/tars/chromadb --tag pre-upgrade --repo /var/backups/tars
			$ tarsctl backup create --postgres --redis --repo /var/backups/tars --quiet   # from cron: 0 2 * * *
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			if cmd.Flags().Changed("encrypt") && noEncrypt {
				return cmdutil.FlagErrorf("--encrypt and --no-encrypt cannot be used together")
			}
			opts.EncryptSet = cmd.Flags().Changed("encrypt") || noEncrypt
			if noEncrypt {
				opts.Encrypt = false
			}
			if !opts.All && !opts.Postgres && !opts.Redis && len(opts.Dirs) == 0 && !opts.IncludeConfig {
				return cmdutil.FlagErrorf("nothing to back up: choose --postgres, --redis, --dir NAME=PATH, --include-config, or --all")
			}
			if cmd.Flags().Changed("format") && !opts.Postgres && !opts.All {
				return cmdutil.FlagErrorf("--format applies to --postgres")
			}
			if opts.IncludeSecrets && !opts.IncludeConfig && !opts.All {
				return cmdutil.FlagErrorf("--include-secrets needs --include-config")
			}
			if err := cmdutil.CheckEnumFlags(cmd); err != nil {
				return err
			}
			if _, _, err := parseDirFlags(opts.Dirs); err != nil {
				return err
			}
			for _, t := range opts.Tags {
				if !backup.ValidTag(t) {
					return cmdutil.FlagErrorf("invalid --tag %q: use letters, digits, '.', '_', ':' and '-', at most 64 characters", t)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	addRepoFlag(cmd, &opts.Repo)
	fl.BoolVar(&opts.All, "all", false, "back up everything the profile has: PostgreSQL, Redis, the data directory, the configuration")
	fl.BoolVar(&opts.Postgres, "postgres", false, "back up the profile's PostgreSQL database with pg_dump")
	fl.StringVar(&opts.Format, "format", "custom", "PostgreSQL dump format: custom (pg_restore) or sql (psql)")
	fl.BoolVar(&opts.Redis, "redis", false, "back up the profile's Redis: an RDB snapshot and a portable key dump")
	fl.StringArrayVar(&opts.Dirs, "dir", nil, "back up directory PATH as part dir-NAME (repeatable): NAME=PATH")
	fl.BoolVar(&opts.IncludeConfig, "include-config", false, "save the effective configuration, secrets redacted")
	fl.BoolVar(&opts.IncludeSecrets, "include-secrets", false, "save the configuration's secrets too (needs --encrypt)")
	fl.BoolVar(&opts.Encrypt, "encrypt", false, "encrypt every part with AES-256-GCM (default: encryption.enabled)")
	fl.BoolVar(&noEncrypt, "no-encrypt", false, "do not encrypt, even when encryption.enabled is true")
	fl.StringVar(&opts.Key, "key", "", "key file for --encrypt: 64 hex digits or 32 bytes (default: encryption.key_file)")
	fl.StringArrayVar(&opts.Tags, "tag", nil, "label the backup (repeatable): --tag pre-upgrade")
	fl.StringVar(&opts.Compression, "compression", backup.CompressDefault, "zstd level: fast (about zstd -1), default (about -3) or max (about -7)")
	cmdutil.EnumFlag(cmd, "format", "custom", "sql")
	cmdutil.EnumFlag(cmd, "compression", backup.CompressionLevels...)
	_ = cmd.MarkFlagFilename("key")
	return cmd
}

// createSummary is the {"type":"summary"} line of create -o json.
type createSummary struct {
	Type              string         `json:"type"`
	ID                string         `json:"id"`
	Repo              string         `json:"repo"`
	Time              time.Time      `json:"time"`
	DurationSeconds   float64        `json:"duration_seconds"`
	Size              int64          `json:"size"`
	Encrypted         bool           `json:"encrypted"`
	KeyID             string         `json:"key_id,omitempty"`
	Tags              []string       `json:"tags"`
	Parts             []backup.Part  `json:"parts"`
	RemovedIncomplete []string       `json:"removed_incomplete"`
	StaleLock         *backupLockRef `json:"stale_lock"`
}

type backupLockRef struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Operation string    `json:"operation"`
	Started   time.Time `json:"started"`
}

func lockRef(l *backup.LockInfo) *backupLockRef {
	if l == nil {
		return nil
	}
	return &backupLockRef{PID: l.PID, Host: l.Host, Operation: l.Operation, Started: l.Started}
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	cfg, profile, err := opts.Config()
	if err != nil {
		return err
	}
	sources, err := buildSources(opts, cfg, profile)
	if err != nil {
		return err
	}
	encrypt := opts.Encrypt
	if !opts.EncryptSet {
		encrypt = cfg.Encryption.Enabled
	}
	if opts.IncludeSecrets && !encrypt {
		return cmdutil.FlagErrorf("--include-secrets needs --encrypt: secrets are never written unencrypted")
	}
	var key []byte
	if encrypt {
		keyFile := opts.Key
		if keyFile == "" {
			keyFile = cfg.Encryption.KeyFile
		}
		if keyFile == "" {
			return cmdutil.FlagErrorf("--encrypt needs a key: --key FILE, or encryption.key_file in the profile")
		}
		if _, key, err = loadKeys(opts.IO, []string{keyFile}); err != nil {
			return err
		}
	} else if opts.Key != "" {
		return cmdutil.FlagErrorf("--key is for --encrypt")
	}

	for _, src := range sources {
		if d, ok := src.(*backup.DirSource); ok && inside(opts.Repo, d.Path) {
			return cmdutil.FlagErrorf("--repo %s is inside the directory %s (part dir-%s): the backup would contain itself", opts.Repo, d.Path, d.Name)
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	repo, err := backup.Init(opts.Repo, now())
	if err != nil {
		return explain(err, opts.Repo)
	}
	jsonMode := opts.Output == cmdutil.OutputJSON
	p := ui.NewProgress(opts.IO, jsonMode, opts.Quiet)
	start := time.Now()
	res, err := repo.Create(ctx, backup.CreateOptions{
		Sources:     sources,
		Tags:        opts.Tags,
		Compression: opts.Compression,
		Profile:     profile,
		Key:         key,
		Now:         now,
		Progress:    p,
	})
	p.Done()
	if err != nil {
		return explain(err, opts.Repo)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonMode)
	if res.StaleLock != nil {
		st.Warning("took over the lock left by %s: that process did not finish", res.StaleLock)
	}
	for _, id := range res.RemovedIncomplete {
		st.Warning("removed the incomplete backup %s, left by an interrupted run", id)
	}
	m := res.Set.Manifest
	for _, part := range m.Parts {
		for _, s := range part.Skipped {
			st.Warning("%s: skipped %s", part.Name, s)
		}
	}
	if jsonMode {
		return ui.WriteJSONLine(opts.IO.Out, createSummary{
			Type: "summary", ID: m.ID, Repo: opts.Repo, Time: m.Time, DurationSeconds: time.Since(start).Seconds(),
			Size: m.Size(), Encrypted: m.Encryption != nil, KeyID: keyIDOf(m), Tags: m.Tags, Parts: m.Parts,
			RemovedIncomplete: nonNil(res.RemovedIncomplete), StaleLock: lockRef(res.StaleLock),
		})
	}
	for _, part := range m.Parts {
		st.Success("%s: %s from %s", part.Name, ui.HumanBytes(part.Size), part.Source)
	}
	enc := ""
	if m.Encryption != nil {
		enc = ", encrypted with key " + m.Encryption.KeyID
	}
	parts := fmt.Sprintf("%d parts", len(m.Parts))
	if len(m.Parts) == 1 {
		parts = "1 part"
	}
	st.Success("Backup %s written and checked: %s, %s%s, in %s", m.ID, parts, ui.HumanBytes(m.Size()), enc,
		time.Since(start).Round(100*time.Millisecond))
	if !opts.Quiet {
		fmt.Fprintln(opts.IO.Out, m.ID)
	}
	return nil
}

func keyIDOf(m *backup.Manifest) string {
	if m.Encryption == nil {
		return ""
	}
	return m.Encryption.KeyID
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// buildSources turns the flags and the profile into backup sources.
func buildSources(opts *CreateOptions, cfg *config.Config, profile string) ([]backup.Source, error) {
	var sources []backup.Source
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if opts.Postgres || (opts.All && (cfg.Database.Driver == config.DatabasePostgres || cfg.Database.URL.IsSet())) {
		conn, err := postgresConn(cfg, getenv)
		if err != nil {
			return nil, err
		}
		format := backup.FormatPgCustom
		if opts.Format == "sql" {
			format = backup.FormatPgSQL
		}
		sources = append(sources, &backup.PostgresSource{Conn: conn, Format: format})
	}
	if opts.Redis || (opts.All && cfg.Redis.Enabled) {
		conn, err := redisConn(cfg, getenv)
		if err != nil {
			return nil, err
		}
		sources = append(sources, &backup.RedisRDBSource{Conn: conn}, &backup.RedisKeysSource{Conn: conn})
	}
	dirs, order, err := parseDirFlags(opts.Dirs)
	if err != nil {
		return nil, err
	}
	if opts.All {
		if _, ok := dirs["data"]; !ok {
			if fi, err := os.Stat(cfg.Paths.DataDirPath()); err == nil && fi.IsDir() {
				dirs["data"] = cfg.Paths.DataDirPath()
				order = append(order, "data")
			}
		}
	}
	for _, name := range order {
		fi, err := os.Stat(dirs[name])
		if err != nil {
			return nil, cmdutil.FlagErrorf("--dir %s: %v", name, err)
		}
		if !fi.IsDir() {
			return nil, cmdutil.FlagErrorf("--dir %s: %s is not a directory", name, dirs[name])
		}
		sources = append(sources, &backup.DirSource{Name: name, Path: dirs[name]})
	}
	if opts.IncludeConfig || opts.All {
		sources = append(sources, &backup.ConfigSource{Config: cfg, Profile: profile, IncludeSecrets: opts.IncludeSecrets, Getenv: getenv})
	}
	if len(sources) == 0 {
		return nil, cmdutil.FlagErrorf("--all: the profile has nothing to back up (database.driver is %s, redis.enabled is false, no data directory)", cfg.Database.Driver)
	}
	return sources, nil
}

// inside reports whether path is dir or below it.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
