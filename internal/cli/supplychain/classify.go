// Package supplychain holds what the sbom, slsa and release commands share
// about errors: which exit code each failure of reading, signing and
// verifying artifacts gets.
package supplychain

import (
	"errors"
	"io/fs"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// Classify gives err its exit code: 1 when something did not verify, 2
// for input that could not be read or parsed (a missing file, an unknown
// SBOM format, a bad key, envelope or digest); a permission error keeps
// its own code (4), anything else is 1.
func Classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, verify.ErrVerificationFailed):
		return cmdutil.Failed(err)
	case errors.Is(err, fs.ErrPermission):
		return err
	case errors.Is(err, fs.ErrNotExist),
		errors.Is(err, sbom.ErrUnknownFormat), errors.Is(err, sbom.ErrNothingFound),
		errors.Is(err, verify.ErrMalformedKey), errors.Is(err, verify.ErrUnsupportedKey),
		errors.Is(err, verify.ErrMalformedEnvelope), errors.Is(err, verify.ErrMalformedDigest),
		errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	return err
}
