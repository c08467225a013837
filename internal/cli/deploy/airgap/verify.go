package airgap

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/airgap"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// VerifyOptions are the inputs of `tarsctl deploy airgap verify`.
type VerifyOptions struct {
	IO *iostreams.IOStreams

	Bundle        string
	Key           string
	SkipSignature bool
	Output        string
	Quiet         bool
}

// NewCmdVerify returns `tarsctl deploy airgap verify`.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "verify BUNDLE --key PUB",
		Short: "Check an offline bundle: checksums, signature, images, SBOMs, provenance",
		Long: heredoc.Doc(`
			Unpack BUNDLE into $TMPDIR and check all of it:

			  checksums    every file matches SHA256SUMS; none is missing, none extra
			  signature    SHA256SUMS.sig verifies with the public key --key
			  images       each images/*.tar is an OCI image layout that
			               go-containerregistry reads, every blob matches its digest,
			               and each platform's image holds exactly bin/tarsctl-OS-ARCH
			  SBOMs        valid against their schema, rooted at their binary's digest
			  provenance   valid (and its DSSE signature, with --key), every binary a
			               subject with the right digest

			--key is required unless --skip-signature: a bundle is only as good as
			the key that signed it. Each check is listed; with -o json the result is
			one document.

			EXIT STATUS
			  0    every check passed
			  1    a check failed (each failure is named), or BUNDLE is not a
			       readable bundle
			  2    bad usage: no --key, an unreadable key
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy airgap verify tars-v1.0.2-airgap.tar.gz --key rsa_public.pem
			$ tarsctl deploy airgap verify tars-v1.0.2-airgap.tar.gz --key rsa_public.pem -o json | jq '.checks[] | select(.ok | not)'
		`),
		Args: cmdutil.ExactArgs(1, "the BUNDLE file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle, opts.Output, opts.Quiet = args[0], f.Globals.Output, f.Globals.Quiet
			if opts.Key == "" && !opts.SkipSignature {
				return cmdutil.FlagErrorf("--key PUB is required to check the bundle's signature (or --skip-signature to check everything else)")
			}
			if opts.Key != "" && opts.SkipSignature {
				return cmdutil.FlagErrorf("--key and --skip-signature cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "public key (PEM) that signed the bundle")
	cmd.Flags().BoolVar(&opts.SkipSignature, "skip-signature", false, "do not check the signature")
	_ = cmd.MarkFlagFilename("key", "pem", "pub")
	return cmd
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	var pub crypto.PublicKey
	if opts.Key != "" {
		k, err := verify.LoadPublicKey(opts.Key)
		if err != nil {
			return classify(fmt.Errorf("--key: %w", err))
		}
		pub = k
	}
	if _, err := os.Stat(opts.Bundle); err != nil {
		return cmdutil.FlagErrorWrap(fmt.Errorf("bundle: %w", err))
	}
	res, err := airgap.Verify(ctx, opts.Bundle, airgap.VerifyOptions{PublicKey: pub})
	if errors.Is(err, airgap.ErrMalformed) {
		return cmdutil.Failed(fmt.Errorf("%s does not verify: %w", opts.Bundle, err))
	}
	if err != nil {
		return err
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, struct {
			OK bool `json:"ok"`
			*airgap.VerifyResult
		}{res.OK(), res}); err != nil {
			return err
		}
	} else {
		st := ui.NewStatus(opts.IO, false)
		for _, c := range res.Checks {
			switch {
			case c.Skipped:
				if !opts.Quiet {
					st.Warning("%s: %s", c.Name, c.Detail)
				}
			case c.OK:
				if !opts.Quiet {
					st.Success("%s: %s", c.Name, c.Detail)
				}
			default:
				st.Failure("%s: %s", c.Name, c.Detail)
			}
		}
	}
	if !res.OK() {
		n := len(res.Failures())
		return cmdutil.Failed(fmt.Errorf("%s does not verify: %d check(s) failed, first: %s: %s", opts.Bundle, n, res.Failures()[0].Name, res.Failures()[0].Detail))
	}
	if opts.Output != cmdutil.OutputJSON {
		ui.NewStatus(opts.IO, opts.Quiet).Success("%s verified: %d files", opts.Bundle, res.Files)
	}
	return nil
}
