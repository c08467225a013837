package slsa

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cli/supplychain"
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
		k, err := LoadSigningKey(opts.IO, opts.SigningKey, opts.Config)
		if err != nil {
			return supplychain.Classify(err)
		}
		key = k
	}
	popts, err := ProvenanceOptions(opts.Getenv, opts.Now, opts.Dir, Overrides{
		BuilderID: opts.BuilderID, InvocationID: opts.InvocationID,
		Source: provenance.Source{URI: opts.SourceURI, Ref: opts.SourceRef, Commit: opts.SourceCommit},
	})
	if err != nil {
		return err
	}
	popts.Artifacts = opts.Artifacts
	st, err := provenance.Generate(ctx, popts)
	if err != nil {
		return supplychain.Classify(err)
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

// LoadSigningKey loads path, or the configured signing.key_file when path is
// "", and warns on stderr when others may read the file.
func LoadSigningKey(ios *iostreams.IOStreams, path string, cfg func() (*config.Config, error)) (*signing.Key, error) {
	if path == "" {
		if cfg == nil {
			return nil, cmdutil.FlagErrorf("--sign needs --signing-key")
		}
		c, err := cfg()
		if err != nil {
			return nil, err
		}
		if c.Signing.KeyFile == "" {
			return nil, cmdutil.FlagErrorf("--sign needs --signing-key, or signing.key_file in the configuration")
		}
		path = c.Signing.KeyFile
	}
	k, err := signing.LoadKey(path)
	if err != nil {
		return nil, err
	}
	if k.WorldReadable() {
		ui.NewStatus(ios, false).Warning("signing key %s can be read by other users; chmod 600 it", path)
	}
	return k, nil
}

// Overrides are provenance facts given as flags; they win over CI and git.
type Overrides struct {
	BuilderID    string
	InvocationID string
	Source       provenance.Source
}

// ProvenanceOptions gathers the builder and source facts: flags, then the CI
// environment, then the git checkout at dir. Times come from
// SOURCE_DATE_EPOCH when it is set, else from now.
func ProvenanceOptions(getenv func(string) string, now func() time.Time, dir string, o Overrides) (provenance.Options, error) {
	if now == nil {
		now = time.Now
	}
	epoch, hasEpoch, err := SourceDateEpoch(getenv)
	if err != nil {
		return provenance.Options{}, err
	}
	p := provenance.Options{
		Now:            now,
		StartedOn:      now(),
		BuilderVersion: map[string]string{"tarsctl": build.Info().Version},
	}
	if hasEpoch {
		p.StartedOn, p.FinishedOn = epoch, epoch
		p.Now = func() time.Time { return epoch }
	}
	if ci, ok := provenance.DetectCI(getenv); ok {
		p.CI, p.BuilderID, p.InvocationID, p.EntryPoint, p.Source = ci.System, ci.BuilderID, ci.InvocationID, ci.EntryPoint, ci.Source
	} else if src, err := provenance.GitSource(dir); err == nil {
		p.Source = src
	}
	if o.BuilderID != "" {
		p.BuilderID = o.BuilderID
	}
	if o.InvocationID != "" {
		p.InvocationID = o.InvocationID
	}
	if o.Source.URI != "" {
		p.Source.URI = o.Source.URI
	}
	if o.Source.Ref != "" {
		p.Source.Ref = o.Source.Ref
	}
	if o.Source.Commit != "" {
		p.Source.Commit = o.Source.Commit
	}
	p.BuilderVersion = maps.Clone(p.BuilderVersion)
	return p, nil
}

// SourceDateEpoch parses SOURCE_DATE_EPOCH (https://reproducible-builds.org).
func SourceDateEpoch(getenv func(string) string) (time.Time, bool, error) {
	v := getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, cmdutil.FlagErrorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
	}
	return time.Unix(n, 0).UTC(), true, nil
}
