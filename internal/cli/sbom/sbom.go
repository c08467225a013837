// Package sbom implements `tarsctl sbom`: generate, merge, diff, validate
// and verify software bills of materials.
package sbom

import (
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
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
