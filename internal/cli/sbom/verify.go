package sbom

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// VerifyOptions are the inputs of `tarsctl sbom verify`.
type VerifyOptions struct {
	IO *iostreams.IOStreams

	Files     []string
	PublicKey string
	Signature string
	Output    string
	Quiet     bool
}

// NewCmdVerify returns `tarsctl sbom verify`.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "verify FILE... --public-key KEY",
		Short: "Verify the detached signature of SBOMs",
		Long: heredoc.Doc(`
			Check each FILE against its detached signature FILE.sig (or --signature,
			for one FILE) with the public key: RSASSA-PSS with SHA-256 and any salt
			length, or ECDSA P-256 with SHA-256, chosen by the key's type. The
			signature is the raw bytes, as tarsctl sbom generate --sign and
			openssl dgst -sign write them.

			EXIT STATUS
			  0  every signature is valid
			  1  a signature does not verify: the file was changed after signing, the
			     signature is corrupt, or it was made with another key
			  2  a file, its signature or the key is missing or malformed
		`),
		Example: heredoc.Doc(`
			$ tarsctl sbom verify release/v1.0.2/sbom/tars-v1.0.2-cyclonedx.json --public-key rsa_public.pem
			$ tarsctl sbom verify sbom.json --signature sbom.json.sig --public-key rsa_public.pem
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("%q needs at least one FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			var err error
			if opts.PublicKey, err = cmdutil.PublicKeysFlag(opts.PublicKey, f.Config); err != nil {
				return err
			}
			if opts.Signature != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--signature needs exactly one FILE")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.PublicKey, "public-key", "", "PEM public key (PKIX or PKCS#1) of the signer; a comma-separated list (the runbook's VERIFY_KEYS) accepts a signature by any of them (default: signing.verify_keys)")
	cmd.Flags().StringVar(&opts.Signature, "signature", "", "signature file (default FILE.sig)")
	_ = cmd.MarkFlagFilename("public-key", "pem")
	return cmd
}

type verifyJSON struct {
	File      string `json:"file"`
	Signature string `json:"signature"`
	Valid     bool   `json:"valid"`
	Error     string `json:"error,omitempty"`
}

func verifyRun(_ context.Context, opts *VerifyOptions) error {
	pub, err := verify.LoadPublicKeys(opts.PublicKey)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	keyID, _ := verify.KeyID(pub)
	if ks, ok := pub.(verify.KeySet); ok {
		ids, _ := ks.IDs()
		keyID = "one of " + strings.Join(ids, ", ")
	}
	status := ui.NewStatus(opts.IO, opts.Quiet)
	var results []verifyJSON
	var firstErr error
	for _, file := range opts.Files {
		sig := opts.Signature
		if sig == "" {
			sig = file + verify.SigSuffix
		}
		err := verify.File(pub, file, sig)
		r := verifyJSON{File: file, Signature: sig, Valid: err == nil}
		if err != nil {
			r.Error = err.Error()
			if firstErr == nil {
				firstErr = err
			}
		} else if opts.Output != cmdutil.OutputJSON {
			status.Success("Signature valid: %s (key %s)", file, keyID)
		}
		results = append(results, r)
		if err != nil && !isVerifyFailure(err) {
			break // a missing file or signature: nothing more to learn
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, results); err != nil {
			return err
		}
	}
	if firstErr != nil {
		return cmdutil.ClassifySupplyChain(fmt.Errorf("verify signature: %w", firstErr))
	}
	return nil
}

func isVerifyFailure(err error) bool { return errors.Is(err, verify.ErrVerificationFailed) }
