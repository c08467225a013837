package sbom

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// GenerateOptions are the inputs of `tarsctl sbom generate`.
type GenerateOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time

	Path        string
	OutputDir   string
	Formats     []string
	SpecVersion string
	Name        string
	Version     string
	ExcludeDev  bool
	Sign        bool
	SigningKey  string
	Output      string
	Quiet       bool
}

// NewCmdGenerate returns `tarsctl sbom generate`.
func NewCmdGenerate(f *cmdutil.Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "generate [PATH]",
		Short: "Generate CycloneDX and SPDX SBOMs of a source tree or Go binary",
		Long: heredoc.Doc(`
			Inventory PATH (default: the current directory) and write its SBOM in
			each format to DIR/<name>-<version>-<format>.json: CycloneDX JSON (spec
			1.7, or 1.6 with --spec-version) and SPDX 2.3 JSON.

			A directory is searched for go.mod (with go.sum and the Go module cache
			for licenses and the module graph), requirements*.txt (exact pins),
			poetry.lock, Pipfile.lock and package-lock.json (v2/v3), skipping .git,
			node_modules, vendor and testdata. A file is read as one of those, or as a
			Go binary's embedded build information. Nothing is fetched from the
			network: what is missing locally is reported as a warning.

			The name and version default to what the input says (the Go module,
			the binary's main module, package-lock's name) and "unversioned"; pass
			--name and --version for release SBOMs. With SOURCE_DATE_EPOCH set the
			output is byte-for-byte reproducible.

			With --sign each file gets a detached signature FILE.sig (raw RSA-PSS or
			ECDSA bytes, see tarsctl sbom verify).
		`),
		Example: heredoc.Doc(`
			$ tarsctl sbom generate --output-dir release/v1.0.2/sbom --name tars --version v1.0.2
			$ tarsctl sbom generate ./frontend --formats cyclonedx --spec-version 1.6 --exclude-dev
			$ tarsctl sbom generate bin/tarsctl --output-dir sbom --sign --signing-key /run/secrets/rsa_private.pem
		`),
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			opts.Path = "."
			if len(args) == 1 {
				opts.Path = args[0]
			}
			formats, err := parseFormats(opts.Formats)
			if err != nil {
				return err
			}
			opts.Formats = formats
			if opts.SigningKey != "" && !opts.Sign {
				return cmdutil.FlagErrorf("--signing-key needs --sign")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return generateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.OutputDir, "output-dir", ".", "directory to write the SBOMs to")
	fl.StringSliceVar(&opts.Formats, "formats", []string{sbom.FormatCycloneDX, sbom.FormatSPDX}, "formats to write: cyclonedx, spdx (comma-separated)")
	fl.StringVar(&opts.SpecVersion, "spec-version", sbom.DefaultCycloneDXVersion, "CycloneDX spec version: 1.7 or 1.6")
	fl.StringVar(&opts.Name, "name", "", "name of the root component (default: from the input)")
	fl.StringVar(&opts.Version, "version", "", "version of the root component (default: from the input, else unversioned)")
	fl.BoolVar(&opts.ExcludeDev, "exclude-dev", false, "leave development dependencies out (by default they are marked)")
	fl.BoolVar(&opts.Sign, "sign", false, "write a detached signature FILE.sig for each SBOM")
	fl.StringVar(&opts.SigningKey, "signing-key", "", "PEM private key for --sign (default: signing.key_file of the configuration)")
	cmdutil.EnumFlag(cmd, "spec-version", sbom.CycloneDX17, sbom.CycloneDX16)
	_ = cmd.RegisterFlagCompletionFunc("formats", cobra.FixedCompletions(sbom.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("output-dir")
	_ = cmd.MarkFlagFilename("signing-key", "pem")
	return cmd
}

func parseFormats(in []string) ([]string, error) {
	var out []string
	for _, f := range in {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(sbom.Formats, f) {
			return nil, cmdutil.FlagErrorf("invalid value %q for --formats: expected cyclonedx, spdx or both", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, cmdutil.FlagErrorf("--formats needs at least one of cyclonedx, spdx")
	}
	// Always write in the same order, whatever order they were asked in.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(sbom.Formats, a) - slices.Index(sbom.Formats, b) })
	return out, nil
}

type generateJSON struct {
	Name       string             `json:"name"`
	Version    string             `json:"version"`
	Components int                `json:"components"`
	Files      []sbom.WrittenFile `json:"files"`
	Warnings   []string           `json:"warnings"`
}

func generateRun(ctx context.Context, opts *GenerateOptions) error {
	ts, err := provenance.Timestamp(opts.Getenv, opts.Now)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	var key *signing.Key
	if opts.Sign {
		if key, err = cmdutil.LoadSigningKey(opts.IO, opts.SigningKey, opts.Config); err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
	}
	inv, err := sbom.Catalog(ctx, sbom.Options{
		Path: opts.Path, Name: opts.Name, Version: opts.Version,
		ModCache: sbom.ModCacheDir(opts.Getenv), ExcludeDev: opts.ExcludeDev,
	})
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	status := ui.NewStatus(opts.IO, opts.Quiet)
	if opts.Output != cmdutil.OutputJSON {
		for _, w := range inv.Warnings {
			status.Warning("%s", w)
		}
	}
	files, err := sbom.WriteFiles(inv, opts.OutputDir, opts.Formats, sbom.WriteOptions{
		Timestamp: ts, Tool: sbom.TarsctlTool(), SpecVersion: opts.SpecVersion,
	}, key)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, generateJSON{
			Name: inv.Root.Name, Version: inv.Root.Version, Components: len(inv.Components),
			Files: files, Warnings: append([]string{}, inv.Warnings...),
		})
	}
	for _, f := range files {
		status.Success("Wrote %s (%s, %d components)", f.Path, f.Format, len(inv.Components))
		if f.Signature != "" {
			status.Success("Signed %s", f.Signature)
		}
	}
	return nil
}
