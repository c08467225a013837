package release

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	sbomcmd "github.com/tars-ops/tarsctl/internal/cli/sbom"
	slsacmd "github.com/tars-ops/tarsctl/internal/cli/slsa"
	"github.com/tars-ops/tarsctl/internal/cli/supplychain"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// SumsFile is the checksum file of a release directory, in the format
// `sha256sum` writes and `sha256sum -c` checks.
const SumsFile = "SHA256SUMS"

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

var versionLike = regexp.MustCompile(`^v?\d+(\.\d+)*([-+.][0-9A-Za-z.-]+)?$`)

// entry is one file of the release and its SHA-256.
type entry struct {
	Rel    string `json:"path"`
	SHA256 string `json:"sha256"`
	Kind   string `json:"kind"`
	Sig    string `json:"signature,omitempty"`
}

type prepareJSON struct {
	OutputDir string   `json:"output_dir"`
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	KeyID     string   `json:"key_id,omitempty"`
	Files     []entry  `json:"files"`
	Verified  bool     `json:"verified"`
	Warnings  []string `json:"warnings"`
}

func prepareRun(ctx context.Context, opts *PrepareOptions) error {
	dir := opts.OutputDir
	status := ui.NewStatus(opts.IO, opts.Quiet || opts.Output == cmdutil.OutputJSON)
	if _, err := os.Stat(filepath.Join(dir, SumsFile)); err == nil && !opts.Force {
		return cmdutil.WithHint(cmdutil.WithExitCode(cmdutil.ExitUsage,
			fmt.Errorf("%s already holds a release (%s exists)", dir, SumsFile)), "use another --output-dir, or --force to replace it")
	}
	for _, a := range opts.Artifacts {
		fi, err := os.Stat(a)
		if err != nil {
			return supplychain.Classify(fmt.Errorf("artifact: %w", err))
		}
		if !fi.Mode().IsRegular() {
			return cmdutil.WithExitCode(cmdutil.ExitUsage, fmt.Errorf("artifact %s is not a regular file", a))
		}
	}
	if dup := duplicateBase(opts.Artifacts); dup != "" {
		return cmdutil.FlagErrorf("two artifacts are named %s; release artifacts need distinct names", dup)
	}
	var key *signing.Key
	if opts.Sign {
		k, err := slsacmd.LoadSigningKey(opts.IO, opts.SigningKey, opts.Config)
		if err != nil {
			return supplychain.Classify(err)
		}
		key = k
	}
	version := opts.Version
	if version == "" {
		if b := filepath.Base(filepath.Clean(dir)); versionLike.MatchString(b) {
			version = b
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// 1. Artifacts: into DIR, hashed in the same pass.
	var entries []entry
	var subjects []verify.Subject
	for _, a := range opts.Artifacts {
		rel := filepath.Base(a)
		h, err := placeArtifact(a, filepath.Join(dir, rel))
		if err != nil {
			return supplychain.Classify(err)
		}
		entries = append(entries, entry{Rel: rel, SHA256: h, Kind: "artifact"})
		subjects = append(subjects, verify.Subject{Name: rel, SHA256: h})
	}
	status.Success("Placed %d artifact(s) in %s", len(subjects), dir)

	// 2. SBOMs.
	name := opts.Name
	var warnings []string
	if opts.IncludeSBOM {
		ts, err := slsaEpoch(opts)
		if err != nil {
			return err
		}
		inv, err := sbom.Catalog(ctx, sbom.Options{Path: opts.Source, Name: opts.Name, Version: version, ModCache: sbom.ModCacheDir(opts.Getenv)})
		if err != nil {
			return supplychain.Classify(err)
		}
		warnings = inv.Warnings
		for _, w := range warnings {
			if opts.Output != cmdutil.OutputJSON {
				ui.NewStatus(opts.IO, false).Warning("%s", w)
			}
		}
		name, version = inv.Root.Name, inv.Root.Version
		files, err := sbomcmd.WriteSBOMs(inv, filepath.Join(dir, "sbom"), sbom.Formats, sbom.WriteOptions{Timestamp: ts, Tool: sbomcmd.Tool()}, key)
		if err != nil {
			return supplychain.Classify(err)
		}
		for _, f := range files {
			e, err := hashEntry(dir, f.Path, "sbom-"+f.Format)
			if err != nil {
				return err
			}
			if f.Signature != "" {
				e.Sig, _ = filepath.Rel(dir, f.Signature)
				e.Sig = filepath.ToSlash(e.Sig)
			}
			entries = append(entries, e)
		}
		status.Success("Wrote SBOMs (%d components)", len(inv.Components))
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(opts.Artifacts[0]), filepath.Ext(opts.Artifacts[0]))
		name = strings.TrimSuffix(name, ".tar")
	}
	if version == "" {
		version = "unversioned"
	}

	// 3. Provenance, from the digests of step 1.
	if opts.IncludeSLSA {
		popts, err := slsacmd.ProvenanceOptions(opts.Getenv, opts.Now, opts.Source, slsacmd.Overrides{
			BuilderID: opts.BuilderID, Source: provenance.Source{URI: opts.SourceURI},
		})
		if err != nil {
			return err
		}
		popts.Subjects = subjects
		st, err := provenance.Generate(ctx, popts)
		if err != nil {
			return err
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
		p := filepath.Join(dir, "slsa", sbomFileSafe(name)+"-"+sbomFileSafe(version)+".provenance.json")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(p, out, atomicfile.Options{Perm: 0o644}); err != nil {
			return err
		}
		e, err := hashEntry(dir, p, "provenance")
		if err != nil {
			return err
		}
		entries = append(entries, e)
		if key != nil {
			status.Success("Wrote signed provenance %s", e.Rel)
		} else {
			status.Success("Wrote provenance %s (unsigned)", e.Rel)
		}
	}

	// 4. SHA256SUMS over everything but signatures.
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.Rel, b.Rel) })
	var sums strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sums, "%s  %s\n", e.SHA256, e.Rel)
	}
	sumsPath := filepath.Join(dir, SumsFile)
	if err := atomicfile.WriteFile(sumsPath, []byte(sums.String()), atomicfile.Options{Perm: 0o644}); err != nil {
		return err
	}
	sumsSig := ""
	if key != nil {
		s, err := key.SignFile(sumsPath)
		if err != nil {
			return err
		}
		sumsSig = filepath.Base(s)
	}
	status.Success("Wrote %s (%d files)", SumsFile, len(entries))

	// 5. Verify everything as a consumer would.
	var pub crypto.PublicKey
	if key != nil {
		pub = key.Public()
	}
	if err := verifyRelease(dir, entries, sumsSig, pub); err != nil {
		return cmdutil.Failed(fmt.Errorf("release %s does not verify: %w", dir, err))
	}
	if opts.Output == cmdutil.OutputJSON {
		res := prepareJSON{OutputDir: dir, Name: name, Version: version, Files: entries, Verified: true, Warnings: append([]string{}, warnings...)}
		if key != nil {
			res.KeyID = key.ID
		}
		return ui.WriteJSON(opts.IO.Out, res)
	}
	if key != nil {
		status.Success("Signatures valid (key %s)", key.ID)
	}
	status.Success("Release %s %s verified: %s", name, version, dir)
	return nil
}

func sbomFileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

func slsaEpoch(opts *PrepareOptions) (time.Time, error) {
	t, ok, err := slsacmd.SourceDateEpoch(opts.Getenv)
	if err != nil || ok {
		return t, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Second), nil
}

func duplicateBase(paths []string) string {
	seen := map[string]bool{}
	for _, p := range paths {
		b := filepath.Base(p)
		if seen[b] {
			return b
		}
		seen[b] = true
	}
	return ""
}

// placeArtifact puts src at dst, as a hard link when both are on one file
// system and as a copy otherwise, and returns its SHA-256: hashed while
// copying, or in one read of the link.
func placeArtifact(src, dst string) (string, error) {
	if same, _ := sameFile(src, dst); same {
		h, _, err := verify.SHA256File(dst)
		return h, err
	}
	_ = os.Remove(dst) // an earlier release's copy, replaced under --force
	if err := os.Link(src, dst); err == nil {
		h, _, err := verify.SHA256File(dst)
		return h, err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	var sum string
	err = atomicfile.Write(dst, atomicfile.Options{Perm: 0o644}, func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.CopyBuffer(io.MultiWriter(w, h), struct{ io.Reader }{in}, make([]byte, 1<<20)); err != nil {
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return sum, err
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

func hashEntry(dir, path, kind string) (entry, error) {
	h, _, err := verify.SHA256File(path)
	if err != nil {
		return entry{}, err
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return entry{}, err
	}
	return entry{Rel: filepath.ToSlash(rel), SHA256: h, Kind: kind}, nil
}

// verifyRelease re-reads what was written: checksums, signatures, SBOM
// validity and provenance. pub is nil for an unsigned release.
func verifyRelease(dir string, entries []entry, sumsSig string, pub crypto.PublicKey) error {
	sums, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, rel, ok := strings.Cut(line, "  ")
		if !ok {
			return fmt.Errorf("%s: malformed line %q", SumsFile, line)
		}
		got, _, err := verify.SHA256File(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: checksum mismatch: %s has sha256:%s, %s says sha256:%s", SumsFile, rel, got, SumsFile, want)
		}
	}
	if pub != nil {
		if err := verify.File(pub, filepath.Join(dir, SumsFile), filepath.Join(dir, sumsSig)); err != nil {
			return err
		}
	}
	var artifactPaths []string
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Rel))
		switch {
		case e.Kind == "artifact":
			artifactPaths = append(artifactPaths, p)
		case strings.HasPrefix(e.Kind, "sbom-"):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			res, err := sbom.Validate(data)
			if err != nil {
				return fmt.Errorf("%s: %w", e.Rel, err)
			}
			if !res.Valid() {
				return fmt.Errorf("%s is not valid: %s", e.Rel, res.Problems[0])
			}
			if pub != nil {
				if err := verify.File(pub, p, filepath.Join(dir, filepath.FromSlash(e.Sig))); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range entries {
		if e.Kind != "provenance" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Rel)))
		if err != nil {
			return err
		}
		var vopts []verify.ProvenanceOption
		for _, a := range artifactPaths {
			vopts = append(vopts, verify.WithArtifactFile(a))
		}
		if pub != nil {
			_, err = verify.Provenance(data, pub, vopts...)
		} else {
			_, err = verify.Statement(data, vopts...)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.Rel, err)
		}
	}
	return nil
}
