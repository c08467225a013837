package keys

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// rotateAESAction names the AES rotation in confirmation errors.
const rotateAESAction = "rotating the data directory's key"

// RotateAESOptions are the inputs of `tarsctl keys rotate aes`.
type RotateAESOptions struct {
	IO        *iostreams.IOStreams
	Config    func() (*config.Config, error)
	OldKey    string
	NewKey    string
	DataDir   string
	DryRun    bool
	RetireOld bool
	NoRestart bool
	Yes       bool
	Workers   int
	Output    string
	Quiet     bool
	// ReloadTimeout bounds the wait for the orchestrator to confirm each
	// keyring change.
	ReloadTimeout time.Duration
}

// NewCmdRotateAES returns `tarsctl keys rotate aes`.
func NewCmdRotateAES(f *cmdutil.Factory, runF func(context.Context, *RotateAESOptions) error) *cobra.Command {
	opts := &RotateAESOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "aes --old-key FILE --new-key FILE [--data-dir DIR]",
		Short: "Re-encrypt the data directory from the old AES key to the new one",
		Long: heredoc.Doc(`
			Re-encrypt every file under the data directory (default: the
			configured paths.data_dir) that is sealed with the old key, so that
			everything is sealed with the new key. The phases, each recorded in
			the journal DATA_DIR/.tarsctl-key-rotation.json:

			  expand    the keyring holds both keys: every file opens
			  switch    the new key seals every new write
			  migrate   each old-key file is re-encrypted to a temporary file,
			            fsynced and renamed over the original, in parallel
			  verify    every encrypted file is read to the end with the new key
			  contract  with --retire-old only, and only after verify: the old
			            key file is overwritten and removed

			A file's header names the key that sealed it, so a rotation that was
			interrupted — even by kill -9 — is finished by running the same
			command again: nothing is encrypted twice and nothing is lost.

			Before anything is modified the data directory is scanned: a file
			sealed with a key that is neither the old nor the new one (for
			instance because --old-key is wrong) or with a damaged header stops
			the rotation with nothing changed. Files that are not encrypted
			(a SQLite database, logs) are left alone.

			When the data directory holds the orchestrator's checkpoints
			(DATA_DIR/orchestrator/agents), the orchestrator follows the
			rotation without a restart: at expand, switch and contract the
			command writes the keyring state file DATA_DIR/aes-keyring.json
			(key files and ids, no key material), sends the running
			orchestrator (found by its pidfile in RUN_DIR) SIGHUP, and waits
			until its /metrics show the new keyring (tars_orchestrator_aes_key)
			before going on. The orchestrator keeps serving throughout and
			reads checkpoints sealed with either key. While the state file
			exists it wins over encryption.key_file; see docs/keys.md.
			--no-restart leaves daemons and the state file alone, for data no
			daemon serves. Destructive: needs --yes when not on a terminal.

			EXIT STATUS
			  0  rotated (or, with --dry-run, planned)
			  1  the rotation failed or verification found a file that does not
			     open with the new key; run it again to resume
			  2  bad input: a key file that is missing, of the wrong length or
			     readable by others, files sealed with neither key; nothing
			     was modified
			  4  permission denied
			  6  the orchestrator did not confirm a keyring change in time
			     (--reload-timeout); run the same command again to resume
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys generate aes --out /etc/tars/aes-new.key
			$ tarsctl keys rotate aes --old-key /etc/tars/aes.key --new-key /etc/tars/aes-new.key --dry-run
			$ tarsctl keys rotate aes --old-key /etc/tars/aes.key --new-key /etc/tars/aes-new.key --yes --retire-old
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if opts.OldKey == "" || opts.NewKey == "" {
				return cmdutil.FlagErrorf("--old-key and --new-key are required")
			}
			if opts.RetireOld && opts.DryRun {
				return cmdutil.FlagErrorf("--retire-old and --dry-run cannot be used together")
			}
			if !opts.DryRun {
				if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, rotateAESAction); err != nil {
					return err
				}
			}
			if opts.Workers < 0 {
				return cmdutil.FlagErrorf("--workers must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateAESRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.OldKey, "old-key", "", "the current AES-256 key file")
	fl.StringVar(&opts.NewKey, "new-key", "", "the new AES-256 key file (tarsctl keys generate aes)")
	fl.StringVar(&opts.DataDir, "data-dir", "", "directory to re-encrypt (default paths.data_dir)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and counts, and change nothing")
	fl.BoolVar(&opts.RetireOld, "retire-old", false, "after verify, overwrite and remove the old key file")
	fl.BoolVar(&opts.NoRestart, "no-restart", false, "leave daemons alone: no running daemon serves this data")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.IntVar(&opts.Workers, "workers", 0, "files in flight at once (default: 4 × GOMAXPROCS, at most 16); at most GOMAXPROCS encrypt at a time")
	fl.DurationVar(&opts.ReloadTimeout, "reload-timeout", time.Minute, "how long to wait for the orchestrator to confirm each keyring change")
	return cmd
}

func rotateAESRun(ctx context.Context, opts *RotateAESOptions) error {
	oldKey, err := keys.LoadAESKey(opts.OldKey)
	if err != nil {
		return classify(fmt.Errorf("--old-key: %w", err))
	}
	newKey, err := keys.LoadAESKey(opts.NewKey)
	if err != nil {
		return classify(fmt.Errorf("--new-key: %w", err))
	}
	var cfg *config.Config
	if opts.DataDir == "" || !opts.NoRestart {
		if cfg, err = opts.Config(); err != nil {
			return err
		}
		if opts.DataDir == "" {
			opts.DataDir = cfg.Paths.DataDirPath()
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	jsonMode := opts.Output == cmdutil.OutputJSON
	var live *liveKeyring
	if !opts.NoRestart {
		live, err = newLiveKeyring(cfg, opts.DataDir, opts.OldKey, opts.NewKey, oldKey, newKey, opts.ReloadTimeout)
		if err != nil {
			return err
		}
		if live != nil {
			live.status = st.Info
		}
	}
	// Plan first: it validates everything and changes nothing.
	plan, err := keys.Rotate(ctx, keys.RotateOptions{DataDir: opts.DataDir, OldKey: oldKey, NewKey: newKey, DryRun: true})
	if err != nil {
		return classify(err)
	}
	if opts.DryRun {
		if jsonMode {
			return ui.WriteJSON(opts.IO.Out, plan)
		}
		printPlan(opts.IO, plan)
		return nil
	}
	if err := cmdutil.Confirm(opts.IO, opts.Yes, rotateAESAction,
		fmt.Sprintf("Re-encrypt %d file(s) in %s from key %s to key %s?", plan.ToMigrate, opts.DataDir, plan.OldKeyID, plan.NewKeyID)); err != nil {
		return err
	}
	prog := ui.NewProgress(opts.IO, jsonMode, opts.Quiet)
	ropts := keys.RotateOptions{
		DataDir: opts.DataDir, OldKey: oldKey, NewKey: newKey,
		OldKeyPath: opts.OldKey, RetireOld: opts.RetireOld,
		Workers: opts.Workers, Progress: prog,
	}
	if live != nil {
		ropts.BeforePhase = live.before
	}
	res, err := keys.Rotate(ctx, ropts)
	prog.Done()
	if err != nil {
		var verr *keys.VerifyError
		if errors.As(err, &verr) {
			return cmdutil.Failed(cmdutil.WithHint(err, "the old key is kept; inspect the files named, then run the command again"))
		}
		if cerr := classify(err); cerr != err {
			return cerr
		}
		return cmdutil.WithHint(err, "run the same command again to resume; the journal is "+filepath.Join(opts.DataDir, keys.JournalName))
	}
	if jsonMode {
		// The status lines before it are JSON Lines: the result is one too.
		return ui.WriteJSONLine(opts.IO.Out, struct {
			Type string `json:"type"`
			*keys.Result
		}{"result", res})
	}
	st.Success("Re-encrypted %d file(s) (%s) from key %s to key %s", res.Rewritten, ui.HumanBytes(res.BytesRewritten), res.OldKeyID, res.NewKeyID)
	st.Success("Verified %d encrypted file(s) open with key %s", res.Verified, res.NewKeyID)
	if res.OldKeyRetired {
		st.Success("Retired old key %s: %s overwritten and removed", res.OldKeyID, opts.OldKey)
	} else {
		st.Info("Old key %s kept at %s; remove it with --retire-old once nothing needs it", res.OldKeyID, opts.OldKey)
	}
	if live != nil {
		st.Info("The daemons take their AES keys from %s until it is removed; set encryption.key_file to %s in the configuration (and encryption.old_key_files while the old key is kept)",
			keys.KeyringPath(live.dataDir), live.newRef.KeyFile)
	}
	fmt.Fprintf(opts.IO.Out, "rewritten\t%d\nverified\t%d\nnew_key_id\t%s\n", res.Rewritten, res.Verified, res.NewKeyID)
	return nil
}

func printPlan(ios *iostreams.IOStreams, p *keys.Result) {
	fmt.Fprintf(ios.Out, "old_key_id\t%s\nnew_key_id\t%s\nfiles\t%d\nto_migrate\t%d\nalready_new\t%d\nnot_encrypted\t%d\nbytes_to_migrate\t%d\nstale_temp_files\t%d\n",
		p.OldKeyID, p.NewKeyID, p.Files, p.ToMigrate, p.Migrated, p.Plaintext, p.Bytes, p.StaleTemps)
	if p.Resuming {
		fmt.Fprintf(ios.Out, "resume_after\t%s\n", p.ResumeFrom)
	}
}
