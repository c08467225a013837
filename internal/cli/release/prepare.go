package release

import (
	"context"
	"errors"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/progress"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/release"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// PrepareOptions are the inputs of `tarsctl release prepare`.
type PrepareOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time

	Artifacts   []string
	OutputDir   string
	IncludeSBOM bool
	IncludeSLSA bool
	Sign        bool
	SigningKey  string
	Source      string
	Name        string
	Version     string
	BuilderID   string
	SourceURI   string
	Force       bool
	Output      string
	Quiet       bool
}

// NewCmdPrepare returns `tarsctl release prepare`.
func NewCmdPrepare(f *cmdutil.Factory, runF func(context.Context, *PrepareOptions) error) *cobra.Command {
	opts := &PrepareOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "prepare ARTIFACT... --output-dir DIR",
		Short: "Write a release's SBOMs, provenance, signatures and checksums, then verify them",
		Long: heredoc.Doc(`
			Prepare the release directory DIR for the artifacts:

			  DIR/ARTIFACT                              each artifact (hard-linked, else copied)
			  DIR/sbom/NAME-VERSION-cyclonedx.json      with --include-sbom: SBOMs of --source
			  DIR/sbom/NAME-VERSION-spdx.json
			  DIR/slsa/NAME-VERSION.provenance.json     with --include-slsa: SLSA provenance,
			                                            a DSSE envelope when signed
			  DIR/SHA256SUMS                            sha256sum format, every file above
			  FILE.sig                                  with --sign: for the SBOMs and SHA256SUMS

			Each artifact is read once: its SHA-256 goes into both SHA256SUMS and the
			provenance. Then everything written is verified as a consumer would: the
			checksums re-hashed, each signature checked with the signing key's public
			half, each SBOM validated against its schema, and the provenance verified
			against the artifacts. Only then does the command report success.

			VERSION defaults to the last element of DIR when it looks like a version
			(release/v1.0.2 gives v1.0.2); NAME to what --source says.

			EXIT STATUS
			  0  prepared and verified
			  1  something written did not verify
			  2  bad input: a missing artifact or key, a malformed key, or DIR holds an
			     earlier release (use --force to replace it)
		`),
		Example: heredoc.Doc(`
			$ tarsctl release prepare dist/tars-v1.0.2.tar.gz --output-dir release/v1.0.2 --include-sbom --include-slsa --sign --signing-key /run/secrets/rsa_private.pem
			$ tarsctl release prepare bin/tarsctl --output-dir release/v1.0.2 --name tars --include-slsa
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("%q needs at least one ARTIFACT", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Artifacts = args
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if opts.OutputDir == "" {
				return cmdutil.FlagErrorf("--output-dir DIR is required")
			}
			if opts.SigningKey != "" && !opts.Sign {
				return cmdutil.FlagErrorf("--signing-key needs --sign")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return prepareRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.OutputDir, "output-dir", "", "release directory to write")
	fl.BoolVar(&opts.IncludeSBOM, "include-sbom", false, "write CycloneDX and SPDX SBOMs of --source")
	fl.BoolVar(&opts.IncludeSLSA, "include-slsa", false, "write SLSA provenance for the artifacts")
	fl.BoolVar(&opts.Sign, "sign", false, "sign the SBOMs, the provenance and SHA256SUMS")
	fl.StringVar(&opts.SigningKey, "signing-key", "", "PEM private key for --sign (default: signing.key_file of the configuration)")
	fl.StringVar(&opts.Source, "source", ".", "source tree (or Go binary) the SBOMs describe")
	fl.StringVar(&opts.Name, "name", "", "release name (default: from --source)")
	fl.StringVar(&opts.Version, "version", "", "release version (default: from DIR, else unversioned)")
	fl.StringVar(&opts.BuilderID, "builder-id", "", "provenance builder id (default: from CI, else "+provenance.LocalBuilderID+")")
	fl.StringVar(&opts.SourceURI, "source-uri", "", "provenance source repository (default: from CI or .git)")
	fl.BoolVar(&opts.Force, "force", false, "replace an earlier release in DIR")
	_ = cmd.MarkFlagDirname("output-dir")
	_ = cmd.MarkFlagFilename("signing-key", "pem")
	return cmd
}

type prepareJSON struct {
	OutputDir string         `json:"output_dir"`
	Name      string         `json:"name"`
	Version   string         `json:"version"`
	KeyID     string         `json:"key_id,omitempty"`
	Files     []release.File `json:"files"`
	Verified  bool           `json:"verified"`
	Warnings  []string       `json:"warnings"`
}

func prepareRun(ctx context.Context, opts *PrepareOptions) error {
	steps := &prepareProgress{
		steps: ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON),
		json:  opts.Output == cmdutil.OutputJSON,
		warn:  ui.NewStatus(opts.IO, false),
	}
	// The checks that read no artifact come before the key and git.
	if err := release.CheckInputs(opts.OutputDir, opts.Artifacts, opts.Force); err != nil {
		return classifyPrepare(err)
	}
	ro := release.Options{
		Dir: opts.OutputDir, Artifacts: opts.Artifacts, Force: opts.Force, Name: opts.Name, Version: opts.Version,
		Progress: steps,
	}
	if opts.Sign {
		k, err := cmdutil.LoadSigningKey(opts.IO, opts.SigningKey, opts.Config)
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		ro.Key = k
	}
	if opts.IncludeSBOM {
		ts, err := provenance.Timestamp(opts.Getenv, opts.Now)
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		ro.SBOM = &release.SBOMOptions{Source: opts.Source, ModCache: sbom.ModCacheDir(opts.Getenv), Time: ts}
	}
	if opts.IncludeSLSA {
		popts, err := provenance.DetectOptions(opts.Getenv, opts.Now, opts.Source, provenance.Overrides{
			BuilderID: opts.BuilderID, Source: provenance.Source{URI: opts.SourceURI},
		})
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		ro.Provenance = &popts
	}
	res, err := release.Prepare(ctx, ro)
	if err != nil {
		return classifyPrepare(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, prepareJSON{
			OutputDir: res.Dir, Name: res.Name, Version: res.Version, KeyID: res.KeyID,
			Files: res.Files, Verified: true, Warnings: append([]string{}, res.Warnings...),
		})
	}
	if res.KeyID != "" {
		steps.steps.Success("Signatures valid (key %s)", res.KeyID)
	}
	steps.steps.Success("Release %s %s verified: %s", res.Name, res.Version, res.Dir)
	return nil
}

// classifyPrepare gives an error of release.Prepare its exit code.
func classifyPrepare(err error) error {
	switch {
	case errors.Is(err, release.ErrExists):
		return cmdutil.WithHint(cmdutil.WithExitCode(cmdutil.ExitUsage, err), "use another --output-dir, or --force to replace it")
	case errors.Is(err, release.ErrDuplicateName):
		return cmdutil.FlagErrorWrap(err)
	case errors.Is(err, release.ErrNotFile):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	case errors.Is(err, release.ErrNotVerified):
		return cmdutil.Failed(err)
	default:
		return cmdutil.ClassifySupplyChain(err)
	}
}

// prepareProgress prints each step of the preparation as a status line,
// and the SBOM's warnings (unless the output is JSON, even with --quiet).
type prepareProgress struct {
	steps, warn *ui.Status
	json        bool
}

var _ progress.Reporter = (*prepareProgress)(nil)

func (p *prepareProgress) Report(e progress.Event) {
	switch {
	case e.Phase != release.PhaseWarning:
		p.steps.Success("%s", e.Message)
	case !p.json:
		p.warn.Warning("%s", e.Message)
	}
}

func (p *prepareProgress) Done() {}
