package backup

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// VerifyOptions are the inputs of `tarsctl backup verify`.
type VerifyOptions struct {
	IO     *iostreams.IOStreams
	Config ConfigFunc
	Now    func() time.Time

	Repo       string
	ID         string
	All        bool
	Deep       bool
	Keys       []string
	ScratchDir string

	Output string
	Quiet  bool
}

// NewCmdVerify returns `tarsctl backup verify`.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Config: configFrom(f), Now: f.Now}
	cmd := &cobra.Command{
		Use:   "verify [ID | --all] --repo DIR [--deep]",
		Short: "Check that backups are whole and restorable",
		Long: heredoc.Doc(`
			Check a backup (the newest when no ID is given; a unique prefix of an id
			will do), or every backup with --all:

			checksums  the manifest matches SHA256SUMS (a hand-edited manifest is
			           caught) and every part's size and SHA-256 match the manifest.
			contents   every part also decodes: decrypts and authenticates,
			           decompresses, and parses — the RDB's CRC-64, every tar entry
			           safe to restore, the key dump's end record, pg_dump's header or
			           the plain dump's completion line. Encrypted parts need their
			           key (--key, or encryption.key_file); without it only their
			           checksums are checked, and the result says so.
			deep       with --deep, every part is also restored into a scratch
			           target and checked, as a restore drill would: PostgreSQL into
			           a temporary server from /usr/lib/postgresql/N/bin (as the
			           postgres user when run as root), Redis into a temporary
			           redis-server, directories into a temporary directory. This
			           needs room in --scratch-dir for the largest part.

			The result is recorded with the backup: list shows it, status and prune
			count only backups whose latest verification passed.

			Output: a row per part (id, part, level reached, result). With -o json,
			JSON Lines: progress, one {"type":"backup"} line per backup, and a
			{"type":"summary"} line.

			EXIT STATUS
			  0    every backup checked passed
			  1    a backup failed: checksum mismatch, missing or truncated part,
			       edited manifest, corrupt contents, failed scratch restore
			  2    bad usage: no such backup, --repo is not a repository, a key file
			  3    --deep needs a program that is missing (initdb, postgres,
			       redis-server, pg_restore)
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup verify --repo /var/backups/tars
			$ tarsctl backup verify 20260128-020000 --deep --repo /var/backups/tars
			$ tarsctl backup verify --all --key /etc/tars/backup.key --key /etc/tars/backup.key.old --repo /var/backups/tars
		`),
		Args:              cmdutil.MaximumArgs(1),
		ValidArgsFunction: completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			if len(args) == 1 {
				opts.ID = args[0]
			}
			if opts.All && opts.ID != "" {
				return cmdutil.FlagErrorf("give a backup ID or --all, not both")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd, &opts.Repo)
	cmd.Flags().BoolVar(&opts.All, "all", false, "verify every backup")
	cmd.Flags().BoolVar(&opts.Deep, "deep", false, "also restore every part into a scratch server or directory")
	cmd.Flags().StringArrayVar(&opts.Keys, "key", nil, "key file to decrypt with (repeatable; default: encryption.key_file)")
	cmd.Flags().StringVar(&opts.ScratchDir, "scratch-dir", "", "where --deep restores (default: the system temporary directory)")
	_ = cmd.MarkFlagFilename("key")
	_ = cmd.MarkFlagDirname("scratch-dir")
	return cmd
}

// defaultKeys returns the key files to try: --key, else the profile's
// encryption.key_file when it exists. A profile that does not load is no
// reason to fail a verification, so its errors are ignored here.
func defaultKeys(given []string, cfgFn ConfigFunc) []string {
	if len(given) > 0 || cfgFn == nil {
		return given
	}
	cfg, _, err := cfgFn()
	if err != nil || cfg.Encryption.KeyFile == "" {
		return nil
	}
	if _, err := os.Stat(cfg.Encryption.KeyFile); err != nil {
		return nil
	}
	return []string{cfg.Encryption.KeyFile}
}

type partResultJSON struct {
	Name  string `json:"name"`
	Level string `json:"level"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Note  string `json:"note,omitempty"`
}

type verifyJSON struct {
	Type     string           `json:"type"`
	ID       string           `json:"id"`
	OK       bool             `json:"ok"`
	Level    string           `json:"level"`
	Problems []string         `json:"problems"`
	Parts    []partResultJSON `json:"parts"`
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	r, err := openRepo(opts.Repo)
	if err != nil {
		return err
	}
	var sets []*backup.Set
	switch {
	case opts.All:
		if sets, err = r.List(); err != nil {
			return err
		}
		if len(sets) == 0 {
			ui.NewStatus(opts.IO, opts.Quiet).Info("the repository has no backups")
			return nil
		}
	default:
		ref := opts.ID
		if ref == "" {
			ref = "latest"
		}
		s, err := r.Find(ref)
		if err != nil {
			return explain(err, opts.Repo)
		}
		sets = []*backup.Set{s}
	}
	var keys *crypto.Keyring
	if paths := defaultKeys(opts.Keys, opts.Config); len(paths) > 0 {
		if keys, _, err = loadKeys(opts.IO, paths); err != nil {
			return err
		}
	}

	jsonMode := opts.Output == cmdutil.OutputJSON
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonMode)
	p := ui.NewProgress(opts.IO, jsonMode, opts.Quiet)
	var reports []*backup.VerifyReport
	for _, s := range sets {
		rep, err := r.Verify(ctx, s, backup.VerifyOptions{
			Keys: keys, Deep: opts.Deep, Scratch: backup.ScratchOptions{Dir: opts.ScratchDir}, Now: opts.Now, Progress: p,
		})
		if err != nil {
			p.Done()
			return explain(err, opts.Repo)
		}
		if rep.RecordErr != nil {
			st.Warning("could not record the result with backup %s: %v", s.ID, rep.RecordErr)
		}
		reports = append(reports, rep)
	}
	p.Done()

	failed := 0
	var first string
	for _, rep := range reports {
		if !rep.OK() {
			failed++
			if first == "" {
				first = fmt.Sprintf("%s: %s", rep.Set.ID, rep.Problems()[0])
			}
		}
	}
	if jsonMode {
		for _, rep := range reports {
			out := verifyJSON{Type: "backup", ID: rep.Set.ID, OK: rep.OK(), Level: rep.Level, Problems: rep.Problems(), Parts: []partResultJSON{}}
			for _, pr := range rep.Parts {
				j := partResultJSON{Name: pr.Name, Level: pr.Level, OK: pr.Err == nil, Note: pr.Note}
				if pr.Err != nil {
					j.Error = pr.Err.Error()
				}
				out.Parts = append(out.Parts, j)
			}
			if err := ui.WriteJSONLine(opts.IO.Out, out); err != nil {
				return err
			}
		}
		summary := struct {
			Type    string `json:"type"`
			Checked int    `json:"checked"`
			Failed  int    `json:"failed"`
		}{"summary", len(reports), failed}
		if err := ui.WriteJSONLine(opts.IO.Out, summary); err != nil {
			return err
		}
	} else {
		t := ui.NewTable(opts.IO, "id", "part", "level", "result")
		for _, rep := range reports {
			if rep.Err != nil {
				t.AddRow(rep.Set.ID, "-", "-", rep.Err.Error())
			}
			for _, pr := range rep.Parts {
				result := "ok"
				if pr.Err != nil {
					result = pr.Err.Error()
				} else if pr.Note != "" {
					result = "ok: " + pr.Note
				}
				level := pr.Level
				if level == "" {
					level = "-"
				}
				t.AddRow(rep.Set.ID, pr.Name, level, result)
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if failed > 0 {
		err := fmt.Errorf("%d of %d backups failed verification; %s", failed, len(reports), first)
		return cmdutil.Failed(cmdutil.WithHint(err, "a damaged backup cannot be trusted: take a new one, and restore from another if you need to"))
	}
	st.Success("%d backup(s) verified", len(reports))
	return nil
}
