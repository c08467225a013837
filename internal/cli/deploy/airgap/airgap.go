// Package airgap implements `tarsctl deploy airgap`: bundle, verify and
// load the offline bundle of a release. internal/deploy/airgap does the
// work.
package airgap

import (
	"errors"
	"io/fs"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/airgap"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// NewCmdAirgap returns the `tarsctl deploy airgap` command group.
func NewCmdAirgap(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "airgap <command>",
		Short: "Build, verify and load an offline bundle for air-gapped sites",
		Long: heredoc.Doc(`
			Carry a T.A.R.S. release into a network with no way out:

			  bundle   on a connected machine: one tar.gz with the tarsctl binaries,
			           the tarsctl image (built without Docker), the Helm chart,
			           the docs, SBOMs, SLSA provenance and signed SHA256SUMS
			  verify   anywhere: check every file, the signature, the image layout,
			           the SBOMs and the provenance
			  load     inside: push the images to the site's registry

			Layout, formats and a step-by-step transfer: docs/airgap.md.
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy airgap bundle v1.0.2 --dist dist --signing-key rsa_private.pem
			$ tarsctl deploy airgap verify tars-v1.0.2-airgap.tar.gz --key rsa_public.pem
			$ tarsctl deploy airgap load tars-v1.0.2-airgap.tar.gz --registry registry.airgap.local:5000
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(
		NewCmdBundle(f, nil),
		NewCmdVerify(f, nil),
		NewCmdLoad(f, nil),
	)
	return cmd
}

// classify gives domain errors their exit codes.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, airgap.ErrBadBinary), errors.Is(err, fs.ErrNotExist), errors.Is(err, airgap.ErrMalformed),
		errors.Is(err, verify.ErrMalformedKey), errors.Is(err, verify.ErrUnsupportedKey),
		errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey), errors.Is(err, sbom.ErrUnknownFormat):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	case errors.Is(err, airgap.ErrRegistryAuth):
		return cmdutil.PermissionDenied(err)
	case errors.Is(err, airgap.ErrRegistry):
		return cmdutil.Unreachable(err)
	}
	return err
}
