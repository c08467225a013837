package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

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

			Running daemons cannot yet reload a keyring, so the command refuses
			while tarsctl-started daemons run, unless --no-restart says that
			none of them serves this data (stop them with tarsctl stop --all,
			rotate, then point encryption.key_file at the new key and start
			them). Destructive: needs --yes when not on a terminal.

			EXIT STATUS
			  0  rotated (or, with --dry-run, planned)
			  1  the rotation failed or verification found a file that does not
			     open with the new key; run it again to resume
			  2  bad input: a key file that is missing, of the wrong length or
			     readable by others, files sealed with neither key; nothing
			     was modified
			  4  permission denied
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
			if !opts.Yes && !opts.DryRun && !opts.IO.CanPrompt() {
				return cmdutil.FlagErrorf("rotating the data directory's key needs --yes when not on a terminal")
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
	fl.IntVar(&opts.Workers, "workers", 0, "files re-encrypted at once (default: CPUs, at most 8)")
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
	var runDir string
	if opts.DataDir == "" || !opts.NoRestart {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if opts.DataDir == "" {
			opts.DataDir = cfg.Paths.DataDirPath()
		}
		runDir = cfg.Paths.RunDirPath()
	}
	if !opts.NoRestart && !opts.DryRun {
		if running := runningDaemons(runDir); len(running) > 0 {
			return cmdutil.Failed(cmdutil.WithHint(
				fmt.Errorf("daemons are running (%s) and cannot reload a keyring yet; nothing was modified", strings.Join(running, ", ")),
				"stop them with tarsctl stop --all, rotate, set encryption.key_file to the new key and start them again",
				"or pass --no-restart if none of them serves "+opts.DataDir))
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	jsonMode := opts.Output == cmdutil.OutputJSON

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
	if !opts.Yes {
		fmt.Fprintf(opts.IO.ErrOut, "Re-encrypt %d file(s) in %s from key %s to key %s? [y/N] ", plan.ToMigrate, opts.DataDir, plan.OldKeyID, plan.NewKeyID)
		var answer string
		_, _ = fmt.Fscanln(opts.IO.In, &answer)
		if answer != "y" && answer != "Y" && answer != "yes" {
			return cmdutil.Failed(errors.New("not rotated: not confirmed"))
		}
	}
	prog := ui.NewProgress(opts.IO, jsonMode, opts.Quiet)
	res, err := keys.Rotate(ctx, keys.RotateOptions{
		DataDir: opts.DataDir, OldKey: oldKey, NewKey: newKey,
		OldKeyPath: opts.OldKey, RetireOld: opts.RetireOld,
		Workers: opts.Workers, Progress: prog,
	})
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

// runningDaemons lists the services whose RUN_DIR pidfile names a live
// process.
func runningDaemons(runDir string) []string {
	matches, _ := filepath.Glob(filepath.Join(runDir, "*.pid"))
	var out []string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var p struct {
			Service string `json:"service"`
			PID     int    `json:"pid"`
		}
		if json.Unmarshal(b, &p) != nil || p.PID <= 0 {
			continue
		}
		if err := syscall.Kill(p.PID, 0); err == nil || errors.Is(err, syscall.EPERM) {
			out = append(out, p.Service)
		}
	}
	sort.Strings(out)
	return out
}
