package sbom

import (
	"context"
	"errors"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// DiffOptions are the inputs of `tarsctl sbom diff`.
type DiffOptions struct {
	IO *iostreams.IOStreams

	Old, New string
	ExitCode bool
	Output   string
	Quiet    bool
}

// NewCmdDiff returns `tarsctl sbom diff`.
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List components added, removed and changed between two SBOMs",
		Long: heredoc.Doc(`
			Compare two SBOMs (CycloneDX or SPDX JSON, in any mix) by component
			ecosystem and name: which were added, which removed, and which changed
			version. This is the check after "regenerate SBOM" in the CVE playbook:
			did the patch bump the vulnerable package, and nothing else?

			Text output is one row per difference: added, removed or changed, the
			ecosystem, the name, the old and the new version. -o json prints
			{"added": [...], "removed": [...], "changed": [...]}.

			EXIT STATUS
			  0  compared (with --exit-code: and no differences)
			  1  with --exit-code: the SBOMs differ
			  2  a file is missing or is not an SBOM
		`),
		Example: heredoc.Doc(`
			$ tarsctl sbom diff release/v1.0.2/sbom/tars-v1.0.2-cyclonedx.json release/v1.0.2-patch/sbom/tars-v1.0.2-patch-cyclonedx.json
			$ tarsctl sbom diff old-spdx.json new-cyclonedx.json -o json | jq '.changed'
		`),
		Args: cmdutil.ExactArgs(2, "OLD and NEW SBOM files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Old, opts.New = args[0], args[1]
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return diffRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ExitCode, "exit-code", false, "exit 1 when the SBOMs differ, as diff(1) does")
	return cmd
}

// errDiffers is returned with --exit-code when the SBOMs differ.
var errDiffers = errors.New("the SBOMs differ")

func diffRun(_ context.Context, opts *DiffOptions) error {
	oldInv, _, err := readInventory(opts.Old)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	newInv, _, err := readInventory(opts.New)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	d := sbom.Diff(oldInv, newInv)
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, d); err != nil {
			return err
		}
	} else {
		t := ui.NewTable(opts.IO, "change", "ecosystem", "name", "old", "new")
		for _, a := range d.Added {
			t.AddRow("added", string(a.Ecosystem), a.Name, "", a.Version)
		}
		for _, r := range d.Removed {
			t.AddRow("removed", string(r.Ecosystem), r.Name, r.Version, "")
		}
		for _, c := range d.Changed {
			t.AddRow("changed", string(c.Ecosystem), c.Name, c.OldVersion, c.NewVersion)
		}
		if !d.Empty() {
			if err := t.Render(); err != nil {
				return err
			}
		}
		status := ui.NewStatus(opts.IO, opts.Quiet)
		if d.Empty() {
			status.Success("No component differences")
		} else {
			status.Info("%d added, %d removed, %d changed", len(d.Added), len(d.Removed), len(d.Changed))
		}
	}
	if opts.ExitCode && !d.Empty() {
		return cmdutil.Failed(fmt.Errorf("%w: %d added, %d removed, %d changed", errDiffers, len(d.Added), len(d.Removed), len(d.Changed)))
	}
	return nil
}
