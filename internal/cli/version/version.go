// Package version implements `tarsctl version`.
package version

import (
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// Options are the inputs of `tarsctl version`.
type Options struct {
	IO     *iostreams.IOStreams
	Info   func() build.BuildInfo
	Output string
}

// NewCmdVersion returns `tarsctl version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Info: build.Info}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Long: heredoc.Doc(`
			Print tarsctl's version, the commit it was built from, the build date,
			and the Go version and platform.
		`),
		Example: heredoc.Doc(`
			$ tarsctl version
			$ tarsctl version -o json | jq -r .version
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	return cmd
}

// Run prints the version.
func Run(opts *Options) error {
	info := opts.Info()
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, info)
	}
	_, err := fmt.Fprint(opts.IO.Out, Format(info))
	return err
}

// Format renders build information as `tarsctl version` and `--version`
// print it.
func Format(info build.BuildInfo) string {
	return fmt.Sprintf("tarsctl %s (commit %s, built %s)\n%s %s\n",
		info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
}
