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
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// The clocks of rotate rsa and retire-old; tests move them.
var rotateRSANow, retireNow = time.Now, time.Now

// retireAction names the retirement of the old RSA key in confirmation
// errors.
const retireAction = "removing the old signing key"

// RotateRSAOptions are the inputs of `tarsctl keys rotate rsa`.
type RotateRSAOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Key    string // current private key (default signing.key_file)
	Out    string // new private key (default rsa_new_private.pem beside Key)
	Bits   int
	Output string
	Quiet  bool
	Now    func() time.Time
}

// NewCmdRotateRSA returns `tarsctl keys rotate rsa`.
func NewCmdRotateRSA(f *cmdutil.Factory, runF func(context.Context, *RotateRSAOptions) error) *cobra.Command {
	opts := &RotateRSAOptions{IO: f.IOStreams, Config: f.Config, Now: func() time.Time { return rotateRSANow() }}
	cmd := &cobra.Command{
		Use:   "rsa [--key FILE] [--out FILE] [--bits N]",
		Short: "Start the runbook's dual-key transition to a new RSA signing key",
		Long: heredoc.Doc(`
			Generate a new RSA signing key pair and switch to the runbook's
			dual-key mode: the new key signs, and the old and the new public keys
			both verify, so artifacts signed before the rotation keep verifying
			while they are in use (30 days), after which tarsctl keys retire-old
			removes the old key.

			The current key is --key (default signing.key_file); its public key
			beside it (rsa_private.pem → rsa_public.pem) is written if missing.
			The new pair goes to --out (default rsa_new_private.pem and
			rsa_new_public.pem beside the current key, the runbook's names;
			rsa_private.pem when the current key is rsa_new_private.pem, so the
			names alternate from one rotation to the next), 4096 bits unless
			--bits. In the new key's directory it writes:

			  signing-transition.json  when the transition started, when it may
			                           end, and both key files with their ids
			  signing.env              the runbook's dual-key configuration:
			                           SIGNING_KEY_NEW, SIGNING_KEY_OLD and
			                           VERIFY_KEYS (file paths, no key material)

			tarsctl reads those three variables as signing.key_file,
			signing.old_key_file and signing.verify_keys (TARS_SIGNING_KEY_FILE
			and the other TARS_ names win when set): source signing.env, or put
			the variables in the deployment, as the runbook's dual-key
			configuration does. Verify with both keys with
			--public-key "$VERIFY_KEYS" (sbom verify, slsa verify).

			Private keys are written 0600, never over an existing file, and never
			printed; nothing is written if a transition is already in progress.
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys rotate rsa --key /etc/tars/keys/rsa_private.pem
			$ set -a; . /etc/tars/keys/signing.env; set +a
			$ tarsctl sbom verify sbom.json --public-key "$VERIFY_KEYS"
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if opts.Bits < keys.MinRSABits {
				return cmdutil.FlagErrorf("--bits %d is too small: use at least %d", opts.Bits, keys.MinRSABits)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateRSARun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Key, "key", "", "the current RSA private key (default signing.key_file)")
	fl.StringVar(&opts.Out, "out", "", "the new private key (default rsa_new_private.pem beside --key; rsa_private.pem when --key is rsa_new_private.pem)")
	fl.IntVar(&opts.Bits, "bits", keys.DefaultRSABits, "size of the new RSA key")
	return cmd
}

func rotateRSARun(_ context.Context, opts *RotateRSAOptions) error {
	if opts.Key == "" {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		opts.Key = cfg.Signing.KeyFile
		if opts.Key == "" {
			return cmdutil.FlagErrorf("no current key: pass --key FILE or set signing.key_file")
		}
	}
	if opts.Out == "" {
		// Alternate between the two names, so the rotation after a
		// retire-old (which leaves rsa_new_private.pem signing) works too.
		name := "rsa_new_private.pem"
		if filepath.Base(opts.Key) == name {
			name = "rsa_private.pem"
		}
		opts.Out = filepath.Join(filepath.Dir(opts.Key), name)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	st.Info("Generating a %d-bit RSA key pair", opts.Bits)
	t, err := keys.RotateRSA(keys.RotateRSAOptions{CurrentKey: opts.Key, NewKey: opts.Out, Bits: opts.Bits, Now: opts.Now})
	if err != nil {
		return classifyRSA(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, t)
	}
	dir := filepath.Dir(t.New.PrivateKey)
	st.Success("New signing key %s: %s", t.New.KeyID, t.New.PrivateKey)
	st.Success("Dual-key mode until %s: the new key signs, keys %s and %s verify", t.RetireAfter.Format(time.DateOnly), t.New.KeyID, t.Old.KeyID)
	st.Info("Apply %s (or set the same variables in the deployment); end the transition with tarsctl keys retire-old --dir %s", filepath.Join(dir, keys.SigningEnvName), dir)
	fmt.Fprint(opts.IO.Out, t.Env())
	return nil
}

// RetireOldOptions are the inputs of `tarsctl keys retire-old`.
type RetireOldOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Dir    string
	Force  bool
	Yes    bool
	Output string
	Quiet  bool
	Now    func() time.Time
}

// NewCmdRetireOld returns `tarsctl keys retire-old`.
func NewCmdRetireOld(f *cmdutil.Factory, runF func(context.Context, *RetireOldOptions) error) *cobra.Command {
	opts := &RetireOldOptions{IO: f.IOStreams, Config: f.Config, Now: func() time.Time { return retireNow() }}
	cmd := &cobra.Command{
		Use:   "retire-old [--dir DIR] [--force]",
		Short: "End an RSA signing key transition: remove the old key",
		Long: heredoc.Doc(`
			End the dual-key transition that tarsctl keys rotate rsa started: the
			old private key is overwritten and removed, the old public key
			removed, and signing.env rewritten with the new key alone
			(SIGNING_KEY_NEW and VERIFY_KEYS). From then on signatures made with
			the old key no longer verify.

			The transition record signing-transition.json is in --dir (default:
			the directory of signing.key_file). The runbook keeps the old key 30
			days after the rotation so that old signatures keep verifying; the
			command refuses earlier unless --force (a compromised old key).

			EXIT STATUS
			  0  retired
			  1  the transition period has not ended (use --force), or there is
			     no transition in progress
			  2  bad input
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys retire-old --dir /etc/tars/keys
			$ tarsctl keys retire-old --dir /etc/tars/keys --force --yes   # the old key leaked
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if err := cmdutil.RequireConfirmation(opts.IO, opts.Yes, retireAction); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return retireOldRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "directory of signing-transition.json (default: that of signing.key_file)")
	fl.BoolVar(&opts.Force, "force", false, "retire before the 30-day transition period ends")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func retireOldRun(_ context.Context, opts *RetireOldOptions) error {
	if opts.Dir == "" {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if cfg.Signing.KeyFile == "" {
			return cmdutil.FlagErrorf("pass --dir DIR (the directory of signing-transition.json), or set signing.key_file")
		}
		opts.Dir = filepath.Dir(cfg.Signing.KeyFile)
	}
	if !opts.Yes {
		t, err := keys.ReadSigningTransition(opts.Dir)
		if err != nil || t == nil {
			_, err = keys.RetireOldRSA(opts.Dir, false, opts.Now())
			return classifyRSA(err)
		}
		if err := cmdutil.Confirm(opts.IO, false, retireAction,
			fmt.Sprintf("Remove the old signing key %s (%s)? Signatures it made will no longer verify.", t.Old.KeyID, t.Old.PrivateKey)); err != nil {
			return err
		}
	}
	t, err := keys.RetireOldRSA(opts.Dir, opts.Force, opts.Now())
	if err != nil {
		return classifyRSA(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, t)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	st.Success("Retired old signing key %s: %s overwritten and removed, %s removed", t.Old.KeyID, t.Old.PrivateKey, t.Old.PublicKey)
	st.Info("Apply %s: the new key %s alone signs and verifies", filepath.Join(opts.Dir, keys.SigningEnvName), t.New.KeyID)
	fmt.Fprint(opts.IO.Out, t.Env())
	return nil
}

// classifyRSA gives the RSA transition's errors their exit codes.
func classifyRSA(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keys.ErrTooEarly):
		return cmdutil.Failed(cmdutil.WithHint(err, "wait, or pass --force if the old key must go now (it leaked)"))
	case errors.Is(err, keys.ErrTransitionInProgress), errors.Is(err, keys.ErrNoTransition):
		return cmdutil.Failed(err)
	case errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	return classify(err)
}
