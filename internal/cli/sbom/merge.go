package sbom

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// MergeOptions are the inputs of `tarsctl sbom merge`.
type MergeOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	Now    func() time.Time

	Inputs      []string
	OutputFile  string
	Format      string
	SpecVersion string
	Name        string
	Version     string
	Quiet       bool
}

// NewCmdMerge returns `tarsctl sbom merge`.
func NewCmdMerge(f *cmdutil.Factory, runF func(context.Context, *MergeOptions) error) *cobra.Command {
	opts := &MergeOptions{IO: f.IOStreams, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "merge SBOM SBOM... --output FILE",
		Short: "Merge the SBOMs of several artifacts into one",
		Long: heredoc.Doc(`
			Combine SBOMs (CycloneDX or SPDX JSON, in any mix) into one document for a
			release of several artifacts. The merged root (--name, --version; default
			the first input's) depends on each input's root; components that appear in
			several inputs (same package URL) become one, with their hashes, licenses
			and properties united, and every dependency edge is kept.

			The output format is --format, else spdx when FILE's name contains
			"spdx", else cyclonedx.
		`),
		Example: heredoc.Doc(`
			$ tarsctl sbom merge api-cyclonedx.json frontend-cyclonedx.json --output tars-v1.0.2-cyclonedx.json --name tars --version v1.0.2
			$ tarsctl sbom merge a-spdx.json b-spdx.json --output all-spdx.json
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cmdutil.FlagErrorf("%q needs at least two SBOMs to merge", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs, opts.Quiet = args, f.Globals.Quiet
			if opts.OutputFile == "" {
				return cmdutil.FlagErrorf("--output FILE is required")
			}
			if opts.Format == "" {
				opts.Format = sbom.FormatCycloneDX
				if strings.Contains(strings.ToLower(opts.OutputFile), "spdx") {
					opts.Format = sbom.FormatSPDX
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return mergeRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// --output names the merged file, as the issue has it; this local flag
	// shadows the global -o/--output format flag on this command.
	fl.StringVar(&opts.OutputFile, "output", "", "merged SBOM file to write")
	fl.StringVar(&opts.Format, "format", "", "output format: cyclonedx or spdx (default: from the file name)")
	fl.StringVar(&opts.SpecVersion, "spec-version", sbom.DefaultCycloneDXVersion, "CycloneDX spec version: 1.7 or 1.6")
	fl.StringVar(&opts.Name, "name", "", "name of the merged root (default: the first input's)")
	fl.StringVar(&opts.Version, "version", "", "version of the merged root (default: the first input's)")
	cmdutil.EnumFlag(cmd, "format", sbom.Formats...)
	cmdutil.EnumFlag(cmd, "spec-version", sbom.CycloneDX17, sbom.CycloneDX16)
	return cmd
}

func mergeRun(_ context.Context, opts *MergeOptions) error {
	ts, err := provenance.Timestamp(opts.Getenv, opts.Now)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	var invs []*sbom.Inventory
	for _, in := range opts.Inputs {
		inv, _, err := readInventory(in)
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		invs = append(invs, inv)
	}
	root := sbom.Component{Type: "application", Name: invs[0].Root.Name, Version: invs[0].Root.Version}
	if opts.Name != "" {
		root.Name = opts.Name
	}
	if opts.Version != "" {
		root.Version = opts.Version
	}
	if root.Name == "" {
		root.Name = "merged"
	}
	merged := sbom.Merge(root, invs...)
	err = atomicfile.Write(opts.OutputFile, atomicfile.Options{Perm: 0o644, MakeDirs: true}, func(w io.Writer) error {
		return sbom.Write(w, opts.Format, merged, sbom.WriteOptions{Timestamp: ts, Tool: sbom.TarsctlTool(), SpecVersion: opts.SpecVersion})
	})
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Merged %d SBOMs into %s (%s, %d components)", len(invs), opts.OutputFile, opts.Format, len(merged.Components))
	return nil
}
