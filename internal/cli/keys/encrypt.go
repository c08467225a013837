package keys

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// CryptOptions are the inputs of `tarsctl keys encrypt` and `keys decrypt`.
type CryptOptions struct {
	IO      *iostreams.IOStreams
	Decrypt bool
	KeyFile []string
	In, Out string
	Force   bool
	Quiet   bool
}

// NewCmdEncrypt returns `tarsctl keys encrypt`.
func NewCmdEncrypt(f *cmdutil.Factory, runF func(context.Context, *CryptOptions) error) *cobra.Command {
	return newCmdCrypt(f, false, runF)
}

// NewCmdDecrypt returns `tarsctl keys decrypt`.
func NewCmdDecrypt(f *cmdutil.Factory, runF func(context.Context, *CryptOptions) error) *cobra.Command {
	return newCmdCrypt(f, true, runF)
}

func newCmdCrypt(f *cmdutil.Factory, decrypt bool, runF func(context.Context, *CryptOptions) error) *cobra.Command {
	opts := &CryptOptions{IO: f.IOStreams, Decrypt: decrypt}
	cmd := &cobra.Command{
		Use:   "encrypt --key FILE IN OUT",
		Short: "Seal a file in the at-rest encryption format",
		Long: heredoc.Doc(`
			Seal IN with the AES-256 key in --key and write OUT in tarsctl's at-rest
			format (streaming AES-256-GCM chunks, the key id in the header; see
			docs/encryption-format.md), for files of any size. OUT is 0600, written
			atomically, and not overwritten without --force.
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys encrypt --key aes.key checkpoint.json checkpoint.json.enc
		`),
		Args: cmdutil.ExactArgs(2, "IN and OUT files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.In, opts.Out, opts.Quiet = args[0], args[1], f.Globals.Quiet
			if len(opts.KeyFile) == 0 {
				return cmdutil.FlagErrorf("--key FILE is required")
			}
			if !opts.Decrypt && len(opts.KeyFile) > 1 {
				return cmdutil.FlagErrorf("encrypt takes one --key")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return cryptRun(cmd.Context(), opts)
		},
	}
	keyHelp := "AES-256 key file (64 hex digits or 32 raw bytes)"
	if decrypt {
		cmd.Use = "decrypt --key FILE IN OUT"
		cmd.Short = "Open a file sealed in the at-rest encryption format"
		cmd.Long = heredoc.Doc(`
			Open IN, sealed in tarsctl's at-rest format, and write the plaintext to
			OUT. --key may be repeated: the key whose id the file's header names is
			used. OUT is 0600 and appears only once the whole file authenticated,
			so a damaged or truncated file leaves nothing behind.
		`)
		cmd.Example = heredoc.Doc(`
			$ tarsctl keys decrypt --key aes.key checkpoint.json.enc checkpoint.json
			$ tarsctl keys decrypt --key aes-new.key --key aes-old.key data.enc data
		`)
		keyHelp += "; repeat for a keyring"
	}
	cmd.Flags().StringArrayVar(&opts.KeyFile, "key", nil, keyHelp)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite OUT if it exists")
	return cmd
}

func cryptRun(_ context.Context, opts *CryptOptions) error {
	ring := &crypto.Keyring{}
	var first []byte
	for _, p := range opts.KeyFile {
		key, err := keys.LoadAESKey(p)
		if err != nil {
			return classify(err)
		}
		if first == nil {
			first = key
		}
		if _, err := ring.Add(key); err != nil {
			return classify(err)
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	if opts.Decrypt {
		if err := keys.DecryptFile(ring, opts.In, opts.Out, opts.Force); err != nil {
			return classify(err)
		}
		st.Success("Decrypted %s to %s", opts.In, opts.Out)
		return nil
	}
	if err := keys.EncryptFile(first, opts.In, opts.Out, opts.Force); err != nil {
		return classify(err)
	}
	st.Success("Encrypted %s to %s with key %s", opts.In, opts.Out, crypto.KeyID(first))
	return nil
}
