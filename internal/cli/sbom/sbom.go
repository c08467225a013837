// Package sbom implements `tarsctl sbom`: generate, merge, diff, validate
// and verify software bills of materials.
package sbom

import (
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// NewCmdSBOM returns the `tarsctl sbom` command group.
func NewCmdSBOM(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sbom <command>",
		Short: "Generate, merge, diff, validate and verify SBOMs",
		Long: heredoc.Doc(`
			Work with software bills of materials in CycloneDX (1.7, or 1.6) and
			SPDX 2.3 JSON: inventory a source tree or a Go binary, merge the SBOMs of
			a release's artifacts, list what changed between two SBOMs, check a
			document against its specification, and verify a detached signature.

			Everything runs offline; docs/sbom.md describes what is recorded.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdGenerate(f, nil))
	cmd.AddCommand(NewCmdMerge(f, nil))
	cmd.AddCommand(NewCmdDiff(f, nil))
	cmd.AddCommand(NewCmdValidate(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}

// classify gives an error its exit code: 1 when something did not verify, 2
// for input that could not be read or parsed; a permission error keeps its
// own code (4).
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, verify.ErrVerificationFailed):
		return cmdutil.Failed(err)
	case errors.Is(err, fs.ErrPermission):
		return err
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, sbom.ErrUnknownFormat), errors.Is(err, sbom.ErrNothingFound),
		errors.Is(err, verify.ErrMalformedKey), errors.Is(err, verify.ErrUnsupportedKey),
		errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	return err
}

// timestamp is SOURCE_DATE_EPOCH when set, else now, in UTC to the second.
func timestamp(getenv func(string) string, now func() time.Time) (time.Time, error) {
	if v := getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, cmdutil.FlagErrorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Second), nil
}
