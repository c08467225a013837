package slsa

import (
	"context"
	"errors"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// VerifyOptions are the inputs of `tarsctl slsa verify`.
type VerifyOptions struct {
	IO *iostreams.IOStreams

	Provenance string
	PublicKey  string
	Artifacts  []string
	Digests    []string
	BuilderID  string
	SourceURI  string
	Output     string
	Quiet      bool
}

// NewCmdVerify returns `tarsctl slsa verify`.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "verify --provenance FILE --public-key KEY",
		Short: "Verify signed SLSA provenance against a key and a policy",
		Long: heredoc.Doc(`
			Verify a DSSE envelope written by tarsctl slsa generate --sign, fully
			offline: the signature with the public key (RSA-PSS with any salt length,
			or ECDSA P-256), the payload type, the in-toto Statement v1 and its SLSA
			provenance v1 predicate, and then the policy flags:

			  --artifact PATH    the file's SHA-256 must be a subject (repeatable)
			  --digest sha256:H  the digest must be a subject, for verifiers that never
			                     see the artifact (repeatable)
			  --builder-id ID    runDetails.builder.id must equal ID
			  --source-uri URI   the source must be URI; "github.com/org/repo" matches
			                     "git+https://github.com/org/repo@refs/heads/main"

			On success it prints "✓ Signature valid" and "✓ Provenance integrity
			verified" on stderr; -o json prints the verified facts on stdout.

			EXIT STATUS
			  0  verified
			  1  verification failed: a bad or altered signature, a wrong key, an
			     artifact that is not a subject, an unexpected payload or predicate type,
			     or a builder or source that does not match; the error says which
			  2  bad input: a missing file, a malformed key, envelope or digest
		`),
		Example: heredoc.Doc(`
			$ tarsctl slsa verify --provenance release/v1.0.2/slsa/tars-v1.0.2.provenance.json --public-key rsa_public.pem
			$ tarsctl slsa verify --provenance tars.provenance.json --public-key rsa_public.pem \
			    --artifact dist/tars-v1.0.2.tar.gz --builder-id https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.2 \
			    --source-uri github.com/org/repo
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if opts.Provenance == "" {
				return cmdutil.FlagErrorf("--provenance FILE is required")
			}
			var err error
			if opts.PublicKey, err = cmdutil.PublicKeysFlag(opts.PublicKey, f.Config); err != nil {
				return err
			}
			for _, d := range opts.Digests {
				if _, err := verify.ParseDigest(d); err != nil {
					return cmdutil.FlagErrorf("--digest: %v", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Provenance, "provenance", "", "signed provenance (DSSE envelope) to verify")
	fl.StringVar(&opts.PublicKey, "public-key", "", "PEM public key (PKIX or PKCS#1) of the signer; a comma-separated list (the runbook's VERIFY_KEYS) accepts a signature by any of them (default: signing.verify_keys)")
	fl.StringArrayVar(&opts.Artifacts, "artifact", nil, "artifact whose SHA-256 must be a subject (repeatable)")
	fl.StringArrayVar(&opts.Digests, "digest", nil, "sha256:HEX digest that must be a subject (repeatable)")
	fl.StringVar(&opts.BuilderID, "builder-id", "", "required builder id")
	fl.StringVar(&opts.SourceURI, "source-uri", "", "required source repository URI")
	_ = cmd.MarkFlagFilename("public-key", "pem")
	_ = cmd.MarkFlagFilename("provenance", "json")
	return cmd
}

type verifyJSON struct {
	Verified  bool             `json:"verified"`
	Error     string           `json:"error,omitempty"`
	KeyID     string           `json:"key_id,omitempty"`
	BuilderID string           `json:"builder_id,omitempty"`
	Sources   []string         `json:"sources,omitempty"`
	Subjects  []verify.Subject `json:"subjects,omitempty"`
	Matched   []verify.Subject `json:"matched,omitempty"`
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	_ = ctx
	pub, err := verify.LoadPublicKeys(opts.PublicKey)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	data, err := readProvenance(opts.Provenance)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	var vopts []verify.ProvenanceOption
	for _, a := range opts.Artifacts {
		vopts = append(vopts, verify.WithArtifactFile(a))
	}
	for _, d := range opts.Digests {
		vopts = append(vopts, verify.WithDigest(d))
	}
	if opts.BuilderID != "" {
		vopts = append(vopts, verify.WithBuilderID(opts.BuilderID))
	}
	if opts.SourceURI != "" {
		vopts = append(vopts, verify.WithSourceURI(opts.SourceURI))
	}
	res, verr := verify.Provenance(data, pub, vopts...)
	status := ui.NewStatus(opts.IO, opts.Quiet)
	if opts.Output == cmdutil.OutputJSON {
		out := verifyJSON{Verified: verr == nil}
		if verr != nil {
			out.Error = verr.Error()
		} else {
			out.KeyID, out.BuilderID, out.Sources, out.Subjects, out.Matched = res.KeyID, res.BuilderID, res.Sources, res.Subjects, res.Matched
		}
		if err := ui.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	}
	if verr != nil {
		if opts.Output != cmdutil.OutputJSON && signatureVerified(verr) {
			status.Success("Signature valid")
		}
		return withHints(cmdutil.ClassifySupplyChain(fmt.Errorf("%s: %w", opts.Provenance, verr)))
	}
	if opts.Output != cmdutil.OutputJSON {
		status.Success("Signature valid")
		status.Success("Provenance integrity verified")
	}
	return nil
}

// signatureVerified reports whether a verification error came after the
// signature check passed.
func signatureVerified(err error) bool {
	if !errors.Is(err, verify.ErrVerificationFailed) {
		return false
	}
	for _, e := range []error{verify.ErrBadSignature, verify.ErrContentAltered, verify.ErrWrongKey, verify.ErrNoSignature} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

func withHints(err error) error {
	switch {
	case errors.Is(err, verify.ErrWrongKey), errors.Is(err, verify.ErrBadSignature):
		return cmdutil.WithHint(err, "check that the public key belongs to the signing key: openssl pkey -in PRIVATE.pem -pubout | diff - PUBLIC.pem")
	case errors.Is(err, verify.ErrMalformedEnvelope):
		return cmdutil.WithHint(err, "verify needs provenance generated with --sign")
	}
	return err
}

func readProvenance(path string) ([]byte, error) {
	data, err := readFileCapped(path, verify.MaxEnvelopeSize)
	if err != nil {
		return nil, fmt.Errorf("read provenance: %w", err)
	}
	return data, nil
}
