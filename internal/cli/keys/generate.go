package keys

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// GenerateOptions are the inputs of `tarsctl keys generate`.
type GenerateOptions struct {
	IO     *iostreams.IOStreams
	Kind   string // aes or rsa
	Out    string
	PubOut string
	Bits   int
	Force  bool
	Output string
	Quiet  bool
}

// NewCmdGenerate returns `tarsctl keys generate`.
func NewCmdGenerate(f *cmdutil.Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "generate aes|rsa --out FILE",
		Short: "Generate an AES-256 key or an RSA key pair",
		Long: heredoc.Doc(`
			Generate one key. aes writes 64 hex digits (what openssl rand -hex 32
			writes); rsa writes a PKCS#8 private key (4096 bits unless --bits) and
			its public key beside it: rsa_private.pem → rsa_public.pem, any other
			name → FILE.pub, or --pub-out. Private key files are 0600, written
			atomically, and never overwritten without --force. The key id is
			printed, the key never.
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys generate aes --out /etc/tars/aes-new.key
			$ tarsctl keys generate rsa --out rsa_private.pem --bits 4096
		`),
		Args:      cmdutil.ExactArgs(1, "the key type: aes or rsa"),
		ValidArgs: []string{"aes", "rsa"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Kind, opts.Output, opts.Quiet = args[0], f.Globals.Output, f.Globals.Quiet
			if opts.Kind != "aes" && opts.Kind != "rsa" {
				return cmdutil.FlagErrorf("unknown key type %q: expected aes or rsa", opts.Kind)
			}
			if opts.Out == "" {
				return cmdutil.FlagErrorf("--out FILE is required")
			}
			if opts.Kind == "aes" && (cmd.Flags().Changed("bits") || opts.PubOut != "") {
				return cmdutil.FlagErrorf("--bits and --pub-out are for rsa keys")
			}
			if opts.Kind == "rsa" && opts.Bits < keys.MinRSABits {
				return cmdutil.FlagErrorf("--bits %d is too small: use at least %d", opts.Bits, keys.MinRSABits)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return generateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "file to write the (private) key to")
	cmd.Flags().StringVar(&opts.PubOut, "pub-out", "", "file for the RSA public key (default: derived from --out)")
	cmd.Flags().IntVar(&opts.Bits, "bits", keys.DefaultRSABits, "RSA key size in bits")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite existing key files")
	return cmd
}

type generated struct {
	Type      string `json:"type"`
	Path      string `json:"path"`
	PublicKey string `json:"public_key_path,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	Bits      int    `json:"bits"`
}

func generateRun(_ context.Context, opts *GenerateOptions) error {
	res := generated{Type: opts.Kind, Path: opts.Out}
	if opts.Kind == "aes" {
		id, err := keys.GenerateAES(opts.Out, opts.Force)
		if err != nil {
			return classify(err)
		}
		res.KeyID, res.Bits = id, 256
	} else {
		pub := opts.PubOut
		if pub == "" {
			pub = keys.PublicKeyPath(opts.Out)
		}
		kp, err := keys.GenerateRSA(opts.Out, pub, opts.Bits, opts.Force)
		if err != nil {
			return classify(err)
		}
		res.PublicKey, res.Bits = pub, kp.Bits
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	if opts.Kind == "aes" {
		st.Success("Wrote AES-256 key %s to %s", res.KeyID, res.Path)
		fmt.Fprintln(opts.IO.Out, res.KeyID)
		return nil
	}
	st.Success("Wrote RSA-%d private key to %s and public key to %s", res.Bits, res.Path, res.PublicKey)
	return nil
}
