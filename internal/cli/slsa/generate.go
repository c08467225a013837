package slsa

import (
	"context"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// GenerateOptions are the inputs of `tarsctl slsa generate`.
type GenerateOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time
	// Dir is where the git checkout is looked for when no flag or CI names
	// the source.
	Dir string

	Artifacts    []string
	OutputFile   string
	Sign         bool
	SigningKey   string
	BuilderID    string
	InvocationID string
	SourceURI    string
	SourceRef    string
	SourceCommit string
	Quiet        bool
}

// NewCmdGenerate returns `tarsctl slsa generate`.
func NewCmdGenerate(f *cmdutil.Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now, Dir: "."}
	cmd := &cobra.Command{
		Use:   "generate ARTIFACT... --output FILE",
		Short: "Generate SLSA provenance for release artifacts",
		Long: heredoc.Docf(`
			Write SLSA provenance v1 for the artifacts: an in-toto Statement v1 whose
			subjects are the artifacts with their SHA-256 digests, and whose predicate
			names the build type, the source at its commit, the builder and the run.

			In GitHub Actions and GitLab CI the builder id, invocation id and source
			come from the job's environment; elsewhere from the flags, else from the
			git checkout in the current directory, with builder id %[1]s.
			Flags override the environment.

			With --sign the output is a DSSE envelope (payload type
			application/vnd.in-toto+json) signed with the key: RSA-PSS for an RSA key,
			ECDSA for a P-256 key. Without --signing-key, --sign uses the key file of
			the configuration (signing.key_file).

			With SOURCE_DATE_EPOCH set, the start and finish times are that instant,
			so the same inputs give the same statement.
		`, provenance.LocalBuilderID),
		Example: heredoc.Doc(`
			$ tarsctl slsa generate dist/tars-v1.0.2.tar.gz --output release/v1.0.2/slsa/tars-v1.0.2.provenance.json
			$ tarsctl slsa generate dist/* --output tars.provenance.json --sign --signing-key /run/secrets/rsa_private.pem
		`),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("%q needs at least one ARTIFACT", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Artifacts = args
			opts.Quiet = f.Globals.Quiet
			if opts.OutputFile == "" {
				return cmdutil.FlagErrorf("--output FILE is required (use - for stdout)")
			}
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
	// --output names the provenance file, as the runbook has it. This local
	// flag shadows the global -o/--output format flag on this command.
	fl.StringVar(&opts.OutputFile, "output", "", "provenance file to write (- for stdout)")
	fl.BoolVar(&opts.Sign, "sign", false, "sign the statement into a DSSE envelope")
	fl.StringVar(&opts.SigningKey, "signing-key", "", "PEM private key for --sign (default: signing.key_file of the configuration)")
	fl.StringVar(&opts.BuilderID, "builder-id", "", "builder id URI (default: from CI, else "+provenance.LocalBuilderID+")")
	fl.StringVar(&opts.InvocationID, "invocation-id", "", "id of this build run, e.g. the CI job URL (default: from CI)")
	fl.StringVar(&opts.SourceURI, "source-uri", "", "source repository, e.g. git+https://github.com/org/repo (default: from CI or .git)")
	fl.StringVar(&opts.SourceRef, "source-ref", "", "source ref, e.g. refs/tags/v1.0.2 (default: from CI or .git)")
	fl.StringVar(&opts.SourceCommit, "source-commit", "", "source commit SHA (default: from CI or .git)")
	_ = cmd.MarkFlagFilename("signing-key", "pem")
	return cmd
}

func generateRun(ctx context.Context, opts *GenerateOptions) error {
	var key *signing.Key
	if opts.Sign {
		k, err := cmdutil.LoadSigningKey(opts.IO, opts.SigningKey, opts.Config)
		if err != nil {
			return cmdutil.ClassifySupplyChain(err)
		}
		key = k
	}
	popts, err := provenance.DetectOptions(opts.Getenv, opts.Now, opts.Dir, provenance.Overrides{
		BuilderID: opts.BuilderID, InvocationID: opts.InvocationID,
		Source: provenance.Source{URI: opts.SourceURI, Ref: opts.SourceRef, Commit: opts.SourceCommit},
	})
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	popts.Artifacts = opts.Artifacts
	st, err := provenance.Generate(ctx, popts)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	var out []byte
	if key != nil {
		out, err = provenance.Sign(ctx, st, key)
	} else {
		out, err = provenance.Marshal(st, true)
	}
	if err != nil {
		return err
	}
	if opts.OutputFile == "-" {
		_, err = opts.IO.Out.Write(out)
		return err
	}
	if err := atomicfile.WriteFile(opts.OutputFile, out, atomicfile.Options{Perm: 0o644, MakeDirs: true}); err != nil {
		return err
	}
	subjects := provenance.SubjectsOf(st)
	status := ui.NewStatus(opts.IO, opts.Quiet)
	if key != nil {
		status.Success("Wrote signed provenance %s for %d artifact(s) (key %s)", opts.OutputFile, len(subjects), key.ID)
	} else {
		status.Success("Wrote provenance %s for %d artifact(s) (unsigned)", opts.OutputFile, len(subjects))
	}
	return nil
}
