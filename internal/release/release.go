package release

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/progress"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// SumsFile is the checksum file of a release directory, in the format
// `sha256sum` writes and `sha256sum -c` checks.
const SumsFile = "SHA256SUMS"

// Errors for bad inputs and for a release that does not verify.
var (
	// ErrExists: the directory already holds a release and Force is off.
	ErrExists = errors.New("already holds a release")
	// ErrNotFile: an artifact is not a regular file.
	ErrNotFile = errors.New("is not a regular file")
	// ErrDuplicateName: two artifacts have the same base name.
	ErrDuplicateName = errors.New("release artifacts need distinct names")
	// ErrNotVerified: what was written does not verify.
	ErrNotVerified = errors.New("does not verify")
)

// Phases of the progress events [Prepare] reports; each event's Message is
// a sentence about what was done.
const (
	PhaseArtifacts  = "artifacts"
	PhaseSBOM       = "sbom"
	PhaseProvenance = "provenance"
	PhaseChecksums  = "checksums"
	// PhaseWarning carries a warning (a license not found offline, say).
	PhaseWarning = "warning"
)

// Options are the inputs of [Prepare].
type Options struct {
	// Dir is the release directory, created when missing.
	Dir       string
	Artifacts []string
	// Force replaces an earlier release in Dir.
	Force bool
	// Name and Version name the release; empty: from the SBOM source, the
	// first artifact and Dir's last element when it looks like a version,
	// else "unversioned".
	Name, Version string
	// Key signs the SBOMs, the provenance and SHA256SUMS; nil: unsigned.
	Key *signing.Key
	// SBOM, when set, writes CycloneDX and SPDX SBOMs of SBOM.Source.
	SBOM *SBOMOptions
	// Provenance, when set, writes SLSA provenance with these facts for
	// the artifacts (Prepare sets its Subjects).
	Provenance *provenance.Options
	// Progress receives a report per step; nil: [progress.Discard].
	Progress progress.Reporter
}

// SBOMOptions say what the release's SBOMs describe.
type SBOMOptions struct {
	Source   string    // source tree or Go binary
	ModCache string    // Go module cache for licenses ([sbom.ModCacheDir])
	Time     time.Time // the documents' timestamp
}

// File is one file of the release and its SHA-256.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the directory
	SHA256 string `json:"sha256"`
	// Kind is "artifact", "sbom-cyclonedx", "sbom-spdx" or "provenance".
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"`
}

// Result describes a prepared and verified release.
type Result struct {
	Dir, Name, Version string
	// KeyID is the signing key's id; empty when unsigned.
	KeyID string
	// Files are in SHA256SUMS order (by path); signatures are not listed.
	Files    []File
	Warnings []string
}

var versionLike = regexp.MustCompile(`^v?\d+(\.\d+)*([-+.][0-9A-Za-z.-]+)?$`)

// CheckInputs makes the checks [Prepare] starts with, which read no
// artifact: dir holds no release unless force, every artifact is a regular
// file, and no two share a base name. A command calls it before costlier
// set-up (loading a key, reading git) so bad input is reported first.
func CheckInputs(dir string, artifacts []string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, SumsFile)); err == nil && !force {
		return fmt.Errorf("%s %w (%s exists)", dir, ErrExists, SumsFile)
	}
	for _, a := range artifacts {
		fi, err := os.Stat(a)
		if err != nil {
			return fmt.Errorf("artifact: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("artifact %s %w", a, ErrNotFile)
		}
	}
	if dup := duplicateBase(artifacts); dup != "" {
		return fmt.Errorf("two artifacts are named %s; %w", dup, ErrDuplicateName)
	}
	return nil
}

// Prepare writes the release into opts.Dir and verifies it: checksums
// re-hashed, signatures checked with the key's public half, SBOMs
// validated, the provenance verified against the placed artifacts.
func Prepare(ctx context.Context, opts Options) (*Result, error) {
	dir := opts.Dir
	rep := opts.Progress
	if rep == nil {
		rep = progress.Discard
	}
	report := func(phase, format string, args ...any) {
		rep.Report(progress.Event{Phase: phase, Message: fmt.Sprintf(format, args...)})
	}
	if err := CheckInputs(dir, opts.Artifacts, opts.Force); err != nil {
		return nil, err
	}
	version := opts.Version
	if version == "" {
		if b := filepath.Base(filepath.Clean(dir)); versionLike.MatchString(b) {
			version = b
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	key := opts.Key

	// 1. Artifacts: into DIR, hashed in the same pass.
	var files []File
	var subjects []verify.Subject
	for _, a := range opts.Artifacts {
		rel := filepath.Base(a)
		h, err := placeArtifact(a, filepath.Join(dir, rel))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: rel, SHA256: h, Kind: "artifact"})
		subjects = append(subjects, verify.Subject{Name: rel, SHA256: h})
	}
	report(PhaseArtifacts, "Placed %d artifact(s) in %s", len(subjects), dir)

	// 2. SBOMs.
	name := opts.Name
	var warnings []string
	if opts.SBOM != nil {
		inv, err := sbom.Catalog(ctx, sbom.Options{Path: opts.SBOM.Source, Name: opts.Name, Version: version, ModCache: opts.SBOM.ModCache})
		if err != nil {
			return nil, err
		}
		warnings = inv.Warnings
		for _, w := range warnings {
			report(PhaseWarning, "%s", w)
		}
		name, version = inv.Root.Name, inv.Root.Version
		written, err := sbom.WriteFiles(inv, filepath.Join(dir, "sbom"), sbom.Formats, sbom.WriteOptions{Timestamp: opts.SBOM.Time, Tool: sbom.TarsctlTool()}, key)
		if err != nil {
			return nil, err
		}
		for _, w := range written {
			f, err := hashFile(dir, w.Path, "sbom-"+w.Format)
			if err != nil {
				return nil, err
			}
			if w.Signature != "" {
				f.Signature, _ = filepath.Rel(dir, w.Signature)
				f.Signature = filepath.ToSlash(f.Signature)
			}
			files = append(files, f)
		}
		report(PhaseSBOM, "Wrote SBOMs (%d components)", len(inv.Components))
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(opts.Artifacts[0]), filepath.Ext(opts.Artifacts[0]))
		name = strings.TrimSuffix(name, ".tar")
	}
	if version == "" {
		version = "unversioned"
	}

	// 3. Provenance, from the digests of step 1.
	if opts.Provenance != nil {
		f, err := writeProvenance(ctx, dir, name, version, *opts.Provenance, subjects, key)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		if key != nil {
			report(PhaseProvenance, "Wrote signed provenance %s", f.Path)
		} else {
			report(PhaseProvenance, "Wrote provenance %s (unsigned)", f.Path)
		}
	}

	// 4. SHA256SUMS over everything but signatures.
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	var sums strings.Builder
	for _, f := range files {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Path)
	}
	sumsPath := filepath.Join(dir, SumsFile)
	if err := atomicfile.WriteFile(sumsPath, []byte(sums.String()), atomicfile.Options{Perm: 0o644}); err != nil {
		return nil, err
	}
	sumsSig := ""
	if key != nil {
		s, err := key.SignFile(sumsPath)
		if err != nil {
			return nil, err
		}
		sumsSig = filepath.Base(s)
	}
	report(PhaseChecksums, "Wrote %s (%d files)", SumsFile, len(files))

	// 5. Verify everything as a consumer would.
	var pub crypto.PublicKey
	res := &Result{Dir: dir, Name: name, Version: version, Files: files, Warnings: warnings}
	if key != nil {
		pub = key.Public()
		res.KeyID = key.ID
	}
	if err := verifyRelease(dir, files, sumsSig, pub); err != nil {
		return nil, fmt.Errorf("release %s %w: %w", dir, ErrNotVerified, err)
	}
	return res, nil
}

// writeProvenance writes the provenance of subjects to
// DIR/slsa/NAME-VERSION.provenance.json, signed when key is not nil.
func writeProvenance(ctx context.Context, dir, name, version string, popts provenance.Options, subjects []verify.Subject, key *signing.Key) (File, error) {
	popts.Subjects = subjects
	st, err := provenance.Generate(ctx, popts)
	if err != nil {
		return File{}, err
	}
	var out []byte
	if key != nil {
		out, err = provenance.Sign(ctx, st, key)
	} else {
		out, err = provenance.Marshal(st, true)
	}
	if err != nil {
		return File{}, err
	}
	p := filepath.Join(dir, "slsa", sbom.SafeFileName(name)+"-"+sbom.SafeFileName(version)+".provenance.json")
	if err := atomicfile.WriteFile(p, out, atomicfile.Options{Perm: 0o644, MakeDirs: true}); err != nil {
		return File{}, err
	}
	return hashFile(dir, p, "provenance")
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
	_ = os.Remove(dst) // an earlier release's copy, replaced under Force
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

func hashFile(dir, path, kind string) (File, error) {
	h, _, err := verify.SHA256File(path)
	if err != nil {
		return File{}, err
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return File{}, err
	}
	return File{Path: filepath.ToSlash(rel), SHA256: h, Kind: kind}, nil
}

// verifyRelease re-reads what was written: checksums, signatures, SBOM
// validity and provenance. pub is nil for an unsigned release.
func verifyRelease(dir string, files []File, sumsSig string, pub crypto.PublicKey) error {
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
	// The artifacts were just re-hashed against SHA256SUMS: the provenance
	// is checked against those digests, not by reading them a third time.
	var artifactDigests []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		switch {
		case f.Kind == "artifact":
			artifactDigests = append(artifactDigests, "sha256:"+f.SHA256)
		case strings.HasPrefix(f.Kind, "sbom-"):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			res, err := sbom.Validate(data)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			if !res.Valid() {
				return fmt.Errorf("%s is not valid: %s", f.Path, res.Problems[0])
			}
			if pub != nil {
				if err := verify.File(pub, p, filepath.Join(dir, filepath.FromSlash(f.Signature))); err != nil {
					return err
				}
			}
		}
	}
	for _, f := range files {
		if f.Kind != "provenance" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return err
		}
		var vopts []verify.ProvenanceOption
		for _, d := range artifactDigests {
			vopts = append(vopts, verify.WithDigest(d))
		}
		if pub != nil {
			_, err = verify.Provenance(data, pub, vopts...)
		} else {
			_, err = verify.Statement(data, vopts...)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}
