package keys

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// StatusOptions are the inputs of `tarsctl keys status`.
type StatusOptions struct {
	IO       *iostreams.IOStreams
	Config   func() (*config.Config, error)
	Now      func() time.Time
	Files    []string
	WarnDays int
	MaxDays  int
	Output   string
	Quiet    bool
}

// NewCmdStatus returns `tarsctl keys status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Config: f.Config, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "status [FILE...]",
		Short: "Show each key's id, algorithm, size and age against the rotation policy",
		Long: heredoc.Doc(`
			Show the configured keys — encryption.key_file (AES-256),
			signing.key_file (RSA) and the JWT secret file — or the key files
			given, with each one's id, algorithm, size and age. The runbook's
			policy is to rotate every 90 days; a key's age is its file's
			modification time, which rotation renews. A key within --warn-days of
			the limit is "due".

			EXIT STATUS
			  0  every key is within the policy (a "due" key only warns)
			  1  a key is past its age, missing, unreadable, or readable by others
			  2  bad usage or configuration
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys status
			$ tarsctl keys status --warn-days 30 -o json
			$ tarsctl keys status /etc/tars/aes.key   # from cron: exit 1 when overdue
		`),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files, opts.Output, opts.Quiet = args, f.Globals.Output, f.Globals.Quiet
			if opts.WarnDays < 0 || opts.MaxDays <= 0 || opts.WarnDays >= opts.MaxDays {
				return cmdutil.FlagErrorf("--warn-days must be from 0 to less than --max-age-days")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.WarnDays, "warn-days", 14, "warn when a key is this many days from its maximum age")
	cmd.Flags().IntVar(&opts.MaxDays, "max-age-days", int(keys.DefaultMaxAge/(24*time.Hour)), "maximum key age in days (the runbook's policy: 90)")
	return cmd
}

func statusRun(_ context.Context, opts *StatusOptions) error {
	type target struct{ name, path string }
	var targets []target
	if len(opts.Files) > 0 {
		for _, p := range opts.Files {
			targets = append(targets, target{filepath.Base(p), p})
		}
	} else {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if p := cfg.Encryption.KeyFile; p != "" {
			targets = append(targets, target{"encryption", p})
		}
		if p := cfg.Signing.KeyFile; p != "" {
			targets = append(targets, target{"signing", p})
		}
		if p := cfg.Auth.JWTSecretFile; p != "" {
			targets = append(targets, target{"jwt", p})
		} else if p := filepath.Join(cfg.Paths.SecretsDirPath(), "jwt_secret"); !cfg.Auth.JWTSecret.IsSet() {
			// The local profile's generated secret: only once it exists.
			if _, err := os.Stat(p); err == nil {
				targets = append(targets, target{"jwt", p})
			}
		}
	}
	now := opts.Now()
	maxAge := time.Duration(opts.MaxDays) * 24 * time.Hour
	warn := time.Duration(opts.WarnDays) * 24 * time.Hour
	list := []keys.KeyStatus{}
	failed := 0
	for _, t := range targets {
		s := keys.Inspect(t.name, t.path, now, maxAge, warn)
		if s.State != keys.StateOK && s.State != keys.StateDue {
			failed++
		}
		list = append(list, s)
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, map[string]any{"keys": list, "max_age_days": opts.MaxDays, "warn_days": opts.WarnDays}); err != nil {
			return err
		}
	} else {
		tbl := ui.NewTable(opts.IO, "NAME", "ID", "ALGORITHM", "BITS", "AGE", "STATE", "PATH")
		for _, s := range list {
			bits := ""
			if s.Bits > 0 {
				bits = strconv.Itoa(s.Bits)
			}
			age := ""
			if !s.Created.IsZero() {
				age = fmt.Sprintf("%dd", s.AgeDays)
			}
			tbl.AddRow(s.Name, s.ID, s.Algorithm, bits, age, s.State, s.Path)
		}
		if err := tbl.Render(); err != nil {
			return err
		}
		st := ui.NewStatus(opts.IO, opts.Quiet)
		if len(list) == 0 {
			st.Info("no key files configured (encryption.key_file, signing.key_file, auth.jwt_secret_file); name files to check them")
		}
		for _, s := range list {
			switch s.State {
			case keys.StateDue:
				st.Warning("%s key %s is %d days old: rotate it within %d days", s.Name, s.Path, s.AgeDays, s.MaxDays-s.AgeDays)
			case keys.StateOK:
			default:
				st.Failure("%s key %s: %s: %s", s.Name, s.Path, s.State, s.Problem)
			}
		}
	}
	if failed > 0 {
		return cmdutil.ErrSilent
	}
	return nil
}
