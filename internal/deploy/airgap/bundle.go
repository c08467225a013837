package airgap

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/tars-ops/tarsctl/internal/progress"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// Names inside a bundle.
const (
	SumsFile = "SHA256SUMS"
	SigFile  = "SHA256SUMS.sig"
)

// ChartFunc writes the packaged Helm chart (a .tgz) of version to w;
// appVersion is the image tag the chart runs by default. The bundle passes
// the image's tag ("1.0.2") for both.
type ChartFunc func(w io.Writer, version, appVersion string) error

// BundleOptions describe one air-gap bundle.
type BundleOptions struct {
	// Version is the release, "v1.0.2".
	Version string
	// Binaries are the tarsctl binaries by platform (linux only).
	Binaries map[Platform]string
	// Companions are the tarsctl-k8s binaries (tarsctl hands the
	// Kubernetes commands over to them) by platform; optional, and only
	// for platforms in Binaries.
	Companions map[Platform]string
	// Repository is the image repository, "company/tars".
	Repository string
	// Chart packages the Helm chart; nil leaves charts/ out.
	Chart ChartFunc
	// Docs is copied under docs/ (nil: none).
	Docs fs.FS
	// Files are further files at the bundle's top, by name
	// (docker-compose.airgap.yaml).
	Files map[string][]byte
	// Key signs SHA256SUMS and the provenance; nil leaves them unsigned.
	Key *signing.Key
	// Time is every file's mtime and the images', SBOMs' and provenance's
	// time, so the same inputs give the same bundle.
	Time time.Time
	// Provenance is the builder, source and CI of the provenance; its
	// subjects are filled in.
	Provenance provenance.Options
	// ModCache is the Go module cache, for the SBOMs' licenses.
	ModCache string
	// Tool names the program in the SBOMs.
	Tool sbom.Tool
	// Revision and Source go into the image labels.
	Revision string
	Source   string
	// Progress receives progress; nil discards it.
	Progress progress.Reporter
	// TempDir is where the bundle is staged (default os.TempDir()).
	TempDir string
}

// File is one file of a bundle.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest says what a bundle holds.
type Manifest struct {
	// Root is the bundle's top directory, "tars-v1.0.2-airgap".
	Root      string           `json:"root"`
	Version   string           `json:"version"`
	Image     string           `json:"image"`
	Digest    string           `json:"image_index_digest"`
	Platforms []string         `json:"platforms"`
	Chart     bool             `json:"chart"`
	Signed    bool             `json:"signed"`
	KeyID     string           `json:"key_id,omitempty"`
	Files     []File           `json:"files"`
	Warnings  []string         `json:"warnings"`
	Time      time.Time        `json:"time"`
	Subjects  []verify.Subject `json:"-"`
}

// RootDir is the top directory of version's bundle.
func RootDir(version string) string { return "tars-" + version + "-airgap" }

// ImageFile is the image tarball's path in version's bundle, with the
// runbook's name (images/tars-1.0.2.tar).
func ImageFile(version string) string {
	return "images/tars-" + strings.TrimPrefix(version, "v") + ".tar"
}

// ChartFile is the packaged chart's path in version's bundle.
func ChartFile(version string) string {
	return "charts/tars-" + strings.TrimPrefix(version, "v") + ".tgz"
}

// BinaryFile is the binary's path in a bundle: bin/tarsctl-linux-amd64.
func BinaryFile(p Platform) string { return "bin/tarsctl-" + p.OS + "-" + p.Arch }

// companionPrefix starts the companions' paths in a bundle.
const companionPrefix = "bin/tarsctl-k8s-"

// CompanionFile is the tarsctl-k8s binary's path in a bundle:
// bin/tarsctl-k8s-linux-amd64.
func CompanionFile(p Platform) string { return companionPrefix + p.OS + "-" + p.Arch }

// ErrBadBinary is returned for a binary that is not an executable of its
// platform.
var ErrBadBinary = errors.New("not a tarsctl binary for that platform")

// CheckBinary makes sure path is an ELF executable for p.
func CheckBinary(path string, p Platform) error {
	if p.OS != "linux" {
		return fmt.Errorf("%s: %w: only linux binaries go into a bundle, not %s", path, ErrBadBinary, p)
	}
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("binary for %s: %w", p, err)
		}
		return fmt.Errorf("%s: %w: not an ELF executable (%v)", path, ErrBadBinary, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}[p.Arch]
	if want == elf.EM_NONE {
		return fmt.Errorf("%s: %w: unknown architecture %s", path, ErrBadBinary, p.Arch)
	}
	if f.Machine != want {
		return fmt.Errorf("%s: %w: it is built for %s, not %s", path, ErrBadBinary, f.Machine, p)
	}
	return nil
}

// WriteBundle builds the bundle and writes it to w as a gzip-compressed
// tar with every file under [RootDir]:
//
//	bin/tarsctl-linux-ARCH            the binaries
//	bin/tarsctl-k8s-linux-ARCH        the Kubernetes companions, when given
//	images/tars-VERSION.tar           the tarsctl image, one per platform, as an
//	                                  OCI image layout that docker load reads
//	charts/tars-VERSION.tgz           the Helm chart (when opts.Chart is set)
//	docs/...                          the operator guide
//	sbom/tarsctl-linux-ARCH.{cdx,spdx}.json   SBOMs of each binary
//	provenance/tars-VERSION.provenance.json   SLSA provenance of binaries and images
//	SHA256SUMS, SHA256SUMS.sig        checksums of every other file, signed
//
// Files are staged on disk in opts.TempDir and streamed into w; nothing
// large is held in memory. w receives bytes only once everything is
// staged, so a failure leaves w untouched (the CLI writes w atomically).
func WriteBundle(ctx context.Context, w io.Writer, opts BundleOptions) (*Manifest, error) {
	rep := opts.Progress
	if rep == nil {
		rep = progress.Discard
	}
	if len(opts.Binaries) == 0 {
		return nil, errors.New("bundle: no binaries")
	}
	for p, b := range opts.Binaries {
		if err := CheckBinary(b, p); err != nil {
			return nil, err
		}
	}
	for p, b := range opts.Companions {
		if _, ok := opts.Binaries[p]; !ok {
			return nil, fmt.Errorf("tarsctl-k8s for %s: %w: the bundle has no tarsctl for %s", p, ErrBadBinary, p)
		}
		if err := CheckBinary(b, p); err != nil {
			return nil, err
		}
	}
	stage, err := os.MkdirTemp(opts.TempDir, "tarsctl-airgap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	root := filepath.Join(stage, "root")
	work := filepath.Join(stage, "work")
	for _, d := range []string{root, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Root: RootDir(opts.Version), Version: opts.Version, Time: opts.Time.UTC(), Warnings: []string{}}
	tag := strings.TrimPrefix(opts.Version, "v")
	m.Image = opts.Repository + ":" + tag
	platforms := sortedPlatforms(opts.Binaries)

	// 1. Binaries.
	var subjects []verify.Subject
	binHash := map[Platform]string{}
	for _, p := range platforms {
		m.Platforms = append(m.Platforms, p.String())
		rep.Report(progress.Event{Phase: "copy binaries", Message: p.String()})
		rel := BinaryFile(p)
		h, err := copyFile(opts.Binaries[p], filepath.Join(root, rel), 0o755)
		if err != nil {
			return nil, err
		}
		binHash[p] = h
		subjects = append(subjects, verify.Subject{Name: rel, SHA256: h})
		if c, ok := opts.Companions[p]; ok {
			h, err := copyFile(c, filepath.Join(root, CompanionFile(p)), 0o755)
			if err != nil {
				return nil, err
			}
			subjects = append(subjects, verify.Subject{Name: CompanionFile(p), SHA256: h})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 2. Images, from the copies just made.
	rep.Report(progress.Event{Phase: "build images", Message: strings.Join(m.Platforms, ", ")})
	staged := map[Platform]string{}
	for _, p := range platforms {
		staged[p] = filepath.Join(root, BinaryFile(p))
	}
	idx, err := BuildIndex(ImageOptions{Binaries: staged, Ref: m.Image, Version: opts.Version, Revision: opts.Revision, Source: opts.Source, Created: opts.Time, TempDir: work})
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	m.Digest = d.String()
	imgRel := ImageFile(opts.Version)
	if err := writeStaged(filepath.Join(root, imgRel), func(w io.Writer) error { return WriteArchive(w, idx, m.Image, opts.Time) }); err != nil {
		return nil, fmt.Errorf("write image archive: %w", err)
	}
	// The image index itself is a subject too, by its registry name, so
	// the provenance covers the image wherever it is pushed.
	subjects = append(subjects, verify.Subject{Name: m.Image, SHA256: d.Hex})
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 3. Chart.
	if opts.Chart != nil {
		rep.Report(progress.Event{Phase: "package chart"})
		err := writeStaged(filepath.Join(root, ChartFile(opts.Version)), func(w io.Writer) error { return opts.Chart(w, tag, tag) })
		if err != nil {
			return nil, fmt.Errorf("package chart: %w", err)
		}
		m.Chart = true
	} else {
		m.Warnings = append(m.Warnings, "no Helm chart in this build: charts/ is left out")
	}

	// 4. Docs and top-level files.
	if opts.Docs != nil {
		rep.Report(progress.Event{Phase: "copy docs"})
		err := fs.WalkDir(opts.Docs, ".", func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, err := fs.ReadFile(opts.Docs, p)
			if err != nil {
				return err
			}
			return writeFile(filepath.Join(root, "docs", filepath.FromSlash(p)), data)
		})
		if err != nil {
			return nil, fmt.Errorf("copy docs: %w", err)
		}
	}
	for name, data := range opts.Files {
		if name == "" || strings.Contains(name, "/") || name == SumsFile || name == SigFile {
			return nil, fmt.Errorf("bundle: bad top-level file name %q", name)
		}
		if err := writeFile(filepath.Join(root, name), data); err != nil {
			return nil, err
		}
	}

	// 5. SBOMs of each binary, rooted at the binary's digest.
	for _, p := range platforms {
		rep.Report(progress.Event{Phase: "write SBOMs", Message: p.String()})
		inv, err := sbom.Catalog(ctx, sbom.Options{Path: staged[p], Name: "tarsctl", Version: opts.Version, ModCache: opts.ModCache})
		if err != nil {
			return nil, fmt.Errorf("SBOM of %s: %w", BinaryFile(p), err)
		}
		inv.Root.Hashes = []sbom.Hash{{Algorithm: "SHA-256", Value: binHash[p]}}
		inv.Root.SetProperty("tarsctl:bundle:file", BinaryFile(p))
		m.Warnings = append(m.Warnings, inv.Warnings...)
		for _, format := range sbom.Formats {
			rel := SBOMFile(p, format)
			err := writeStaged(filepath.Join(root, rel), func(w io.Writer) error {
				return sbom.Write(w, format, inv, sbom.WriteOptions{Timestamp: opts.Time.UTC(), Tool: opts.Tool})
			})
			if err != nil {
				return nil, fmt.Errorf("write %s: %w", rel, err)
			}
		}
	}

	// 6. Provenance of the binaries, the image archive and the image.
	rep.Report(progress.Event{Phase: "write provenance"})
	imgHash, _, err := verify.SHA256File(filepath.Join(root, imgRel))
	if err != nil {
		return nil, err
	}
	subjects = append(subjects, verify.Subject{Name: imgRel, SHA256: imgHash})
	popts := opts.Provenance
	popts.Subjects = subjects
	popts.Artifacts = nil
	if popts.FinishedOn.IsZero() {
		popts.FinishedOn = opts.Time
	}
	st, err := provenance.Generate(ctx, popts)
	if err != nil {
		return nil, err
	}
	var provJSON []byte
	if opts.Key != nil {
		provJSON, err = provenance.Sign(ctx, st, opts.Key)
	} else {
		provJSON, err = provenance.Marshal(st, true)
	}
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(root, ProvenanceFile(opts.Version)), provJSON); err != nil {
		return nil, err
	}
	m.Subjects = subjects

	// 7. SHA256SUMS over every file, then its signature.
	rep.Report(progress.Event{Phase: "checksums"})
	files, err := hashTree(ctx, root)
	if err != nil {
		return nil, err
	}
	var sums strings.Builder
	for _, f := range files {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Path)
	}
	if err := writeFile(filepath.Join(root, SumsFile), []byte(sums.String())); err != nil {
		return nil, err
	}
	if opts.Key != nil {
		sig, err := opts.Key.Sign(strings.NewReader(sums.String()))
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", SumsFile, err)
		}
		if err := writeFile(filepath.Join(root, SigFile), sig); err != nil {
			return nil, err
		}
		m.Signed, m.KeyID = true, opts.Key.ID
	}
	if m.Files, err = hashTree(ctx, root); err != nil {
		return nil, err
	}

	// 8. The archive.
	if err := writeArchive(ctx, w, root, m.Root, opts.Time, rep); err != nil {
		return nil, err
	}
	return m, nil
}

// SBOMFile is the path of a binary's SBOM in format.
func SBOMFile(p Platform, format string) string {
	ext := map[string]string{sbom.FormatCycloneDX: "cdx", sbom.FormatSPDX: "spdx"}[format]
	return "sbom/tarsctl-" + p.OS + "-" + p.Arch + "." + ext + ".json"
}

// ProvenanceFile is the provenance's path in version's bundle.
func ProvenanceFile(version string) string {
	return "provenance/tars-" + strings.TrimPrefix(version, "v") + ".provenance.json"
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// writeStaged creates path and fills it; staging files need no atomic
// rename, the whole stage is thrown away on error.
func writeStaged(path string, fill func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return fill(f)
}

// copyFile copies src to dst and returns its SHA-256, in one pass.
func copyFile(src, dst string, perm os.FileMode) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	var sum string
	err = writeStaged(dst, func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.CopyBuffer(io.MultiWriter(w, h), in, make([]byte, 1<<20)); err != nil {
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return "", err
	}
	return sum, os.Chmod(dst, perm)
}

// hashTree lists every regular file under root with its SHA-256, sorted
// by path, leaving out SHA256SUMS and its signature.
func hashTree(ctx context.Context, root string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == SumsFile || rel == SigFile {
			return nil
		}
		h, n, err := verify.SHA256File(p)
		if err != nil {
			return err
		}
		out = append(out, File{Path: rel, Size: n, SHA256: h})
		return nil
	})
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, err
}

// writeArchive writes the staged tree as a tar.gz under top/, entries
// sorted, with fixed times and owners.
func writeArchive(ctx context.Context, w io.Writer, root, top string, mtime time.Time, rep progress.Reporter) error {
	var paths []string
	var total int64
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if !e.IsDir() {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(paths)
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mt := mtime.UTC()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/", Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}); err != nil {
		return err
	}
	var done int64
	cw := &countingWriter{w: tw, report: func(n int64) {
		done += n
		rep.Report(progress.Event{Phase: "write bundle", Done: done, Total: total, Unit: "bytes"})
	}}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join(top, filepath.ToSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}); err != nil {
				return err
			}
			continue
		}
		mode := int64(0o644)
		if fi.Mode().Perm()&0o100 != 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size(), ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(cw, f, make([]byte, 1<<20))
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

type countingWriter struct {
	w      io.Writer
	report func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.report(int64(n))
	return n, err
}
