// Package slsa implements `tarsctl slsa`: generate and verify SLSA
// provenance v1 for release artifacts.
package slsa

import (
	"errors"
	"io/fs"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// NewCmdSLSA returns the `tarsctl slsa` command group.
func NewCmdSLSA(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slsa <command>",
		Short: "Generate and verify SLSA provenance",
		Long: heredoc.Doc(`
			Generate SLSA provenance v1 for release artifacts (an in-toto Statement v1,
			signed into a DSSE envelope with --sign) and verify it offline against a
			public key and a policy: the artifacts or digests, the builder and the
			source. docs/slsa.md describes the format.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdGenerate(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}

// classify gives an error its exit code: 1 when something did not verify, 2
// for input that could not be read or parsed (a missing file, a bad key or
// envelope); a permission error keeps its own code (4).
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, verify.ErrVerificationFailed):
		return cmdutil.Failed(err)
	case errors.Is(err, fs.ErrPermission):
		return err
	case errors.Is(err, fs.ErrNotExist),
		errors.Is(err, verify.ErrMalformedKey), errors.Is(err, verify.ErrUnsupportedKey),
		errors.Is(err, verify.ErrMalformedEnvelope), errors.Is(err, verify.ErrMalformedDigest),
		errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	return err
}
