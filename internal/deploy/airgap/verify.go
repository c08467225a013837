package airgap

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// ErrMalformed is returned for a file that is not a bundle at all (not a
// tar.gz, unsafe paths, no SHA256SUMS).
var ErrMalformed = errors.New("not a valid air-gap bundle")

// Check is one verification step and what it found.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// VerifyResult is what [Verify] found.
type VerifyResult struct {
	Root   string  `json:"root"`
	Files  int     `json:"files"`
	Signed bool    `json:"signed"`
	KeyID  string  `json:"key_id,omitempty"`
	Checks []Check `json:"checks"`
}

// OK reports whether every check that ran passed.
func (r *VerifyResult) OK() bool {
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			return false
		}
	}
	return true
}

// Failures lists the checks that failed.
func (r *VerifyResult) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c)
		}
	}
	return out
}

func (r *VerifyResult) add(name string, err error, okDetail string) {
	if err != nil {
		r.Checks = append(r.Checks, Check{Name: name, Detail: err.Error()})
		return
	}
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Detail: okDetail})
}

// VerifyOptions tune [Verify].
type VerifyOptions struct {
	// PublicKey checks SHA256SUMS.sig and a signed provenance; nil skips
	// the signature (the check is reported as skipped).
	PublicKey crypto.PublicKey
	// TempDir is where the bundle is unpacked (default os.TempDir()).
	TempDir string
}

// Verify unpacks the bundle at path and checks all of it: every file
// against SHA256SUMS and no file missing or extra, the signature of
// SHA256SUMS, the image tarball as an OCI image layout whose images hold
// the bundle's binaries, each SBOM against its schema and its binary's
// digest, and the provenance's subjects against the files. Problems are
// checks that failed in the result; err is for a bundle that cannot be read
// at all ([ErrMalformed]) or I/O errors.
func Verify(ctx context.Context, bundle string, opts VerifyOptions) (*VerifyResult, error) {
	dir, err := os.MkdirTemp(opts.TempDir, "tarsctl-airgap-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	top, files, err := unpack(ctx, bundle, dir)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, top)
	res := &VerifyResult{Root: top, Files: len(files)}

	// 1. Checksums: each listed file matches, none missing, none extra.
	sumsData, ok := readSmall(filepath.Join(root, SumsFile))
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %s", ErrMalformed, bundle, SumsFile)
	}
	sums, err := parseSums(sumsData)
	if err != nil {
		res.add("checksums", err, "")
	} else {
		res.add("checksums", compareSums(sums, files), fmt.Sprintf("%d files match %s", len(sums), SumsFile))
	}

	// 2. Signature.
	sig, hasSig := readSmall(filepath.Join(root, SigFile))
	res.Signed = hasSig
	switch {
	case opts.PublicKey == nil:
		detail := "not checked: no public key given"
		if !hasSig {
			detail = "the bundle is unsigned"
		}
		res.Checks = append(res.Checks, Check{Name: "signature", Skipped: true, Detail: detail})
	case !hasSig:
		res.add("signature", fmt.Errorf("%s is missing: the bundle is unsigned", SigFile), "")
	default:
		id, _ := verify.KeyID(opts.PublicKey)
		err := verify.Signature(opts.PublicKey, bytes.NewReader(sumsData), sig)
		if err != nil {
			err = fmt.Errorf("%s does not verify with key %s: %w", SigFile, id, err)
		} else {
			res.KeyID = id
		}
		res.add("signature", err, "SHA256SUMS signed by key "+id)
	}

	// Binaries by platform, from their names.
	bins := map[string]string{} // "linux-amd64" → sha256
	for _, f := range files {
		if strings.HasPrefix(f.Path, companionPrefix) {
			continue // not in the image; SHA256SUMS and the provenance cover it
		}
		if name, ok := strings.CutPrefix(f.Path, "bin/tarsctl-"); ok {
			bins[name] = f.SHA256
		}
	}
	if len(bins) == 0 {
		res.add("binaries", errors.New("bin/ holds no tarsctl binaries"), "")
	}

	// 3. Images.
	var images []File
	for _, f := range files {
		if strings.HasPrefix(f.Path, "images/") && strings.HasSuffix(f.Path, ".tar") {
			images = append(images, f)
		}
	}
	if len(images) == 0 {
		res.add("images", errors.New("images/ holds no image tarball"), "")
	}
	for _, img := range images {
		detail, err := checkImageArchive(ctx, filepath.Join(root, filepath.FromSlash(img.Path)), filepath.Join(dir, "oci"), bins)
		res.add("image "+img.Path, err, detail)
	}

	// 4. SBOMs.
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "sbom/") {
			continue
		}
		res.add("sbom "+f.Path, checkSBOM(filepath.Join(root, filepath.FromSlash(f.Path)), f.Path, bins), "valid, describes its binary's digest")
	}

	// 5. Provenance.
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "provenance/") {
			continue
		}
		detail, err := checkProvenance(filepath.Join(root, filepath.FromSlash(f.Path)), files, opts.PublicKey)
		res.add("provenance "+f.Path, err, detail)
	}
	return res, nil
}

// unpack extracts the bundle into dir, hashing each file as it is
// written. Only directories and regular files under one top directory
// are accepted.
func unpack(ctx context.Context, bundle, dir string) (string, []File, error) {
	f, err := os.Open(bundle)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s is not gzip-compressed: %v", ErrMalformed, bundle, err)
	}
	tr := tar.NewReader(gz)
	top := ""
	var files []File
	for {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: read %s: %v", ErrMalformed, bundle, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return "", nil, fmt.Errorf("%w: unsafe path %q", ErrMalformed, h.Name)
		}
		first, rest, _ := strings.Cut(name, "/")
		if top == "" {
			top = first
		} else if first != top {
			return "", nil, fmt.Errorf("%w: %q is outside the top directory %s/", ErrMalformed, h.Name, top)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", nil, err
			}
		case tar.TypeReg:
			if rest == "" {
				return "", nil, fmt.Errorf("%w: file %q is not in a top directory", ErrMalformed, h.Name)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", nil, err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return "", nil, fmt.Errorf("%w: %q appears twice", ErrMalformed, h.Name)
				}
				return "", nil, err
			}
			hs := sha256.New()
			n, err := io.CopyBuffer(io.MultiWriter(out, hs), tr, make([]byte, 1<<20))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return "", nil, fmt.Errorf("%w: read %s: %v", ErrMalformed, h.Name, err)
			}
			files = append(files, File{Path: rest, Size: n, SHA256: hex.EncodeToString(hs.Sum(nil))})
		default:
			return "", nil, fmt.Errorf("%w: %q is not a regular file or directory (tar type %q)", ErrMalformed, h.Name, h.Typeflag)
		}
	}
	if top == "" {
		return "", nil, fmt.Errorf("%w: %s is empty", ErrMalformed, bundle)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return top, files, nil
}

func readSmall(p string) ([]byte, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	return data, err == nil
}

// sumLine is compiled on first use: package init runs at every tarsctl start.
var sumLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9a-f]{64})  (\S.*)$`) })

func parseSums(data []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := sumLine().FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s line %d is malformed: want \"SHA256  PATH\"", SumsFile, i+1)
		}
		if _, dup := out[m[2]]; dup {
			return nil, fmt.Errorf("%s lists %s twice", SumsFile, m[2])
		}
		out[m[2]] = m[1]
	}
	return out, nil
}

func compareSums(sums map[string]string, files []File) error {
	var problems []string
	seen := map[string]bool{}
	for _, f := range files {
		if f.Path == SumsFile || f.Path == SigFile {
			continue
		}
		seen[f.Path] = true
		want, ok := sums[f.Path]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is not listed in %s (an extra file)", f.Path, SumsFile))
		case want != f.SHA256:
			problems = append(problems, fmt.Sprintf("%s has sha256:%s, %s says sha256:%s", f.Path, f.SHA256, SumsFile, want))
		}
	}
	var missing []string
	for p := range sums {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	for _, p := range missing {
		problems = append(problems, fmt.Sprintf("%s is listed in %s but missing", p, SumsFile))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkImageArchive reads the image tarball back as an OCI image layout
// with go-containerregistry, validates every blob against its digest, and
// checks each platform's binary is byte-for-byte the bundle's.
func checkImageArchive(ctx context.Context, archive, scratch string, bins map[string]string) (string, error) {
	dir, err := os.MkdirTemp(filepath.Dir(scratch), "oci-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := extractTar(ctx, archive, dir); err != nil {
		return "", err
	}
	idx, err := OpenLayout(dir)
	if err != nil {
		return "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	var platforms []string
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			return "", fmt.Errorf("image %s has no platform", desc.Digest)
		}
		p := desc.Platform.OS + "-" + desc.Platform.Architecture
		platforms = append(platforms, desc.Platform.OS+"/"+desc.Platform.Architecture)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return "", err
		}
		if err := checkBlobs(img, desc.Digest); err != nil {
			return "", fmt.Errorf("image for %s: %w", p, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		if cfg.OS != desc.Platform.OS || cfg.Architecture != desc.Platform.Architecture {
			return "", fmt.Errorf("image %s is labelled %s/%s but its config says %s/%s", desc.Digest, desc.Platform.OS, desc.Platform.Architecture, cfg.OS, cfg.Architecture)
		}
		want, ok := bins[p]
		if !ok {
			return "", fmt.Errorf("the image for %s has no binary bin/tarsctl-%s in the bundle", p, p)
		}
		got, err := imageBinaryDigest(img)
		if err != nil {
			return "", fmt.Errorf("image for %s: %w", p, err)
		}
		if got != want {
			return "", fmt.Errorf("the image for %s holds a tarsctl with sha256:%s, but bin/tarsctl-%s has sha256:%s", p, got, p, want)
		}
	}
	d, _ := idx.Digest()
	return fmt.Sprintf("valid OCI image layout, index %s, %s, binaries match bin/", d, strings.Join(platforms, ", ")), nil
}

// checkBlobs re-hashes every blob of img: the manifest against the
// index's descriptor, the config against the manifest, each layer's
// compressed bytes against the manifest and its uncompressed bytes against
// the config's diff_ids. (go-containerregistry's validate package does the
// same, but links go-cmp, whose init costs every tarsctl start 0.7 ms.)
func checkBlobs(img v1.Image, want v1.Hash) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if got := sha256Hash(raw); got != want {
		return fmt.Errorf("manifest has digest %s, the index says %s", got, want)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if got := sha256Hash(cfgRaw); got != m.Config.Digest {
		return fmt.Errorf("config has digest %s, the manifest says %s", got, m.Config.Digest)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("the manifest lists %d layers, the config %d", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, ld := range m.Layers {
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		sum, n, err := verify.SHA256(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("read layer %s: %w", ld.Digest, err)
		}
		if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != ld.Digest || n != ld.Size {
			return fmt.Errorf("layer %s has digest %s and %d bytes, the manifest says %d bytes", ld.Digest, got, n, ld.Size)
		}
		rc, err = l.Uncompressed()
		if err != nil {
			return err
		}
		sum, _, err = verify.SHA256(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("decompress layer %s: %w", ld.Digest, err)
		}
		if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != cfg.RootFS.DiffIDs[i] {
			return fmt.Errorf("layer %s decompresses to %s, the config says %s", ld.Digest, got, cfg.RootFS.DiffIDs[i])
		}
	}
	return nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// imageBinaryDigest is the SHA-256 of /usr/local/bin/tarsctl in img.
func imageBinaryDigest(img v1.Image) (string, error) {
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	want := strings.TrimPrefix(BinaryPath, "/")
	found := ""
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return "", err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return "", err
			}
			if path.Clean(strings.TrimPrefix(h.Name, "./")) == want {
				sum, _, err := verify.SHA256(tr)
				if err != nil {
					rc.Close()
					return "", err
				}
				found = hex.EncodeToString(sum[:])
			}
		}
		rc.Close()
	}
	if found == "" {
		return "", fmt.Errorf("no %s in the image", BinaryPath)
	}
	return found, nil
}

// OpenLayout opens the OCI image layout in dir and returns the image
// index that index.json names (the one multi-platform index the bundle
// writes).
func OpenLayout(dir string) (v1.ImageIndex, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		return nil, fmt.Errorf("index.json should name one image index, names %d entries", len(im.Manifests))
	}
	return top.ImageIndex(im.Manifests[0].Digest)
}

// RefName returns the full image name index.json records for the index.
func RefName(dir string) (string, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return "", err
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return "", err
	}
	im, err := top.IndexManifest()
	if err != nil {
		return "", err
	}
	if len(im.Manifests) == 0 || im.Manifests[0].Annotations[containerdName] == "" {
		return "", errors.New("index.json names no image")
	}
	return im.Manifests[0].Annotations[containerdName], nil
}

// extractTar unpacks a plain tar of regular files and directories.
func extractTar(ctx context.Context, archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Base(archive), err)
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s: unsafe path %q", filepath.Base(archive), h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(out, tr, make([]byte, 1<<20))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: %q is not a regular file or directory", filepath.Base(archive), h.Name)
		}
	}
}

// checkSBOM validates an SBOM and checks its root is the binary it is
// named after, by digest.
func checkSBOM(p, rel string, bins map[string]string) error {
	data, ok := readSmall(p)
	if !ok {
		return fmt.Errorf("cannot read %s", rel)
	}
	v, err := sbom.Validate(data)
	if err != nil {
		return err
	}
	if !v.Valid() {
		return fmt.Errorf("not a valid SBOM: %s", v.Problems[0])
	}
	inv, _, err := sbom.Read(data)
	if err != nil {
		return err
	}
	base := strings.TrimPrefix(path.Base(rel), "tarsctl-")
	plat, _, _ := strings.Cut(base, ".")
	want, ok := bins[plat]
	if !ok {
		return fmt.Errorf("describes %s, which has no binary in bin/", plat)
	}
	for _, h := range inv.Root.Hashes {
		if strings.EqualFold(strings.ReplaceAll(h.Algorithm, "-", ""), "SHA256") {
			if h.Value == want {
				return nil
			}
			return fmt.Errorf("its root has sha256:%s, but bin/tarsctl-%s has sha256:%s", h.Value, plat, want)
		}
	}
	return errors.New("its root component has no SHA-256")
}

// checkProvenance verifies the provenance (its DSSE signature when pub is
// given and it is signed) and that every subject naming a bundle file has
// that file's digest, and every binary is a subject.
func checkProvenance(p string, files []File, pub crypto.PublicKey) (string, error) {
	data, ok := readSmall(p)
	if !ok {
		return "", errors.New("cannot read it")
	}
	var (
		res *verify.ProvenanceResult
		err error
	)
	signed := bytes.Contains(data, []byte(`"payloadType"`))
	switch {
	case signed && pub != nil:
		res, err = verify.Provenance(data, pub)
	case signed:
		env, perr := verify.ParseEnvelope(data)
		if perr != nil {
			return "", perr
		}
		res, err = verify.Statement(env.Payload)
	default:
		res, err = verify.Statement(data)
	}
	if err != nil {
		return "", err
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = f.SHA256
	}
	covered := map[string]bool{}
	for _, s := range res.Subjects {
		if h, ok := byPath[s.Name]; ok {
			if h != s.SHA256 {
				return "", fmt.Errorf("subject %s has sha256:%s, but the file has sha256:%s", s.Name, s.SHA256, h)
			}
			covered[s.Name] = true
		}
	}
	for _, f := range files {
		if strings.HasPrefix(f.Path, "bin/") && !covered[f.Path] {
			return "", fmt.Errorf("%s is not a subject of the provenance", f.Path)
		}
	}
	what := "unsigned statement"
	if signed && pub != nil {
		what = "signed envelope, signature valid"
	} else if signed {
		what = "signed envelope, signature not checked"
	}
	return fmt.Sprintf("%s, %d subjects match the bundle's files", what, len(covered)), nil
}
