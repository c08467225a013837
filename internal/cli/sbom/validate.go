package sbom

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ValidateOptions are the inputs of `tarsctl sbom validate`.
type ValidateOptions struct {
	IO *iostreams.IOStreams

	Files  []string
	Output string
	Quiet  bool
}

// NewCmdValidate returns `tarsctl sbom validate`.
func NewCmdValidate(f *cmdutil.Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check SBOMs against the CycloneDX or SPDX specification",
		Long: heredoc.Doc(`
			Check each FILE against its specification, offline, and report every
			problem with its JSON pointer:

			  CycloneDX 1.5, 1.6, 1.7  the official JSON schema, unique bom-refs, and
			                           dependency refs that name a component
			  SPDX 2.3                 the official JSON schema, tools-golang's parser
			                           and relationship checks, unique SPDX ids, and a
			                           DESCRIBES relationship

			-o json prints [{"file", "format", "version", "valid", "problems"}].

			EXIT STATUS
			  0  every file is valid
			  1  a file has problems (all are listed)
			  2  a file is missing or is neither CycloneDX nor SPDX JSON
		`),
		Example: heredoc.Doc(`
			$ tarsctl sbom validate release/v1.0.2/sbom/tars-v1.0.2-cyclonedx.json
			$ tarsctl sbom validate release/v1.0.2/sbom/*.json -o json | jq '.[] | select(.valid | not)'
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("%q needs at least one FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	return cmd
}

type validateJSON struct {
	File string `json:"file"`
	*sbom.ValidationResult
	Valid bool `json:"valid"`
}

func validateRun(_ context.Context, opts *ValidateOptions) error {
	status := ui.NewStatus(opts.IO, opts.Quiet)
	var results []validateJSON
	invalid := 0
	for _, file := range opts.Files {
		data, err := readDocument(file)
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		res, err := sbom.Validate(data)
		if err != nil {
			return cmdutil.ClassifySupplyChain(fmt.Errorf("%s: %w", file, err))
		}
		results = append(results, validateJSON{File: file, ValidationResult: res, Valid: res.Valid()})
		if !res.Valid() {
			invalid++
		}
		if opts.Output == cmdutil.OutputJSON {
			continue
		}
		name := formatName(res)
		if res.Valid() {
			status.Success("%s is valid %s", file, name)
			continue
		}
		status.Failure("%s is not valid %s: %d problem(s)", file, name, len(res.Problems))
		for _, p := range res.Problems {
			fmt.Fprintf(opts.IO.ErrOut, "  %s\n", p)
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, results); err != nil {
			return err
		}
	}
	if invalid > 0 {
		return cmdutil.Failed(fmt.Errorf("%d of %d SBOM(s) are not valid", invalid, len(opts.Files)))
	}
	return nil
}

func formatName(r *sbom.ValidationResult) string {
	if r.Format == sbom.FormatCycloneDX {
		return "CycloneDX " + r.Version
	}
	return r.Version
}
