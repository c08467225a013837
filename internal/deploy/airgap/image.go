package airgap

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tars-ops/tarsctl/internal/services"
)

// The image's user: the conventional "nonroot" uid and gid of distroless
// images, so volumes and files it writes are not root's.
const (
	ImageUID = 65532
	ImageGID = 65532
	// BinaryPath is where the image holds tarsctl.
	BinaryPath = "/usr/local/bin/tarsctl"
	// imageHome is the docker profile's paths.home; its data and logs
	// directories exist in the image, owned by the user, so a named
	// volume mounted there starts out writable.
	imageHome = "/var/lib/tars"
)

// LabelServices is the image label listing the daemons it serves (`tarsctl
// serve NAME`), comma-separated, in dependency order.
const LabelServices = "io.tars.services"

// catalogServices returns the daemons of the service catalog and the ports
// they listen on by default (API and peer ports), as an image config's
// ExposedPorts.
func catalogServices() ([]string, map[string]struct{}) {
	var names []string
	ports := map[string]struct{}{}
	for _, e := range services.All() {
		names = append(names, e.Name)
		for _, p := range []int{e.APIPort, e.PeerPort} {
			if p != 0 {
				ports[fmt.Sprintf("%d/tcp", p)] = struct{}{}
			}
		}
	}
	return names, ports
}

// Platform is an OS and architecture a binary and an image are built for.
type Platform struct {
	OS   string
	Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatform parses "linux/amd64".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return Platform{}, fmt.Errorf("invalid platform %q: want OS/ARCH, such as linux/amd64", s)
	}
	return Platform{OS: os, Arch: arch}, nil
}

// DefaultPlatforms are the platforms a bundle carries unless told otherwise.
var DefaultPlatforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}}

// ImageOptions describe the tarsctl image.
type ImageOptions struct {
	// Binaries are the tarsctl binaries by platform; each becomes the
	// image of its platform.
	Binaries map[Platform]string
	// Ref is the image's name, "company/tars:1.0.2".
	Ref string
	// Version, Revision and Source go into the OCI labels.
	Version  string
	Revision string
	Source   string
	// Created is the images' creation time and every file's mtime.
	Created time.Time
	// TempDir holds the compressed layers while the images exist.
	TempDir string
}

// BuildIndex builds the tarsctl image of every platform, FROM scratch with
// no Docker daemon: one layer holding the binary at [BinaryPath] and the
// directories the daemons write to, a non-root user, entrypoint
// ["tarsctl"] and the OCI labels. It returns the multi-platform OCI index
// of them. Each layer is compressed once into TempDir; nothing is held in
// memory.
func BuildIndex(opts ImageOptions) (v1.ImageIndex, error) {
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	platforms := sortedPlatforms(opts.Binaries)
	for _, p := range platforms {
		img, err := buildImage(p, opts.Binaries[p], opts)
		if err != nil {
			return nil, fmt.Errorf("build image for %s: %w", p, err)
		}
		plat := &v1.Platform{OS: p.OS, Architecture: p.Arch}
		if p.Arch == "arm64" {
			plat.Variant = "v8"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: plat},
		})
	}
	return idx, nil
}

func sortedPlatforms(m map[Platform]string) []Platform {
	var out []Platform
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Platform) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func buildImage(p Platform, binary string, opts ImageOptions) (v1.Image, error) {
	layerPath := filepath.Join(opts.TempDir, "layer-"+p.OS+"-"+p.Arch+".tar.gz")
	if err := writeLayer(layerPath, binary, opts.Created); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: opts.Created.UTC()}
	labels := map[string]string{
		"org.opencontainers.image.title":       "tarsctl",
		"org.opencontainers.image.description": "T.A.R.S. operator toolkit and service daemons (tarsctl serve SERVICE)",
		"org.opencontainers.image.version":     opts.Version,
		"org.opencontainers.image.created":     opts.Created.UTC().Format(time.RFC3339),
	}
	if opts.Ref != "" {
		labels["org.opencontainers.image.ref.name"] = opts.Ref
	}
	// What the image serves, from the service catalog: the daemons (each
	// runs as `tarsctl serve NAME`) and their default ports.
	names, ports := catalogServices()
	labels[LabelServices] = strings.Join(names, ",")
	if opts.Revision != "" {
		labels["org.opencontainers.image.revision"] = opts.Revision
	}
	if opts.Source != "" {
		labels["org.opencontainers.image.source"] = opts.Source
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Created:      created,
		Config: v1.Config{
			Entrypoint: []string{"tarsctl"},
			Cmd:        []string{"--help"},
			User:       fmt.Sprintf("%d:%d", ImageUID, ImageGID),
			WorkingDir: imageHome,
			Env: []string{
				"PATH=/usr/local/bin:/usr/bin:/bin",
				"HOME=" + imageHome,
				"TARS_PROFILE=docker",
			},
			Labels:       labels,
			ExposedPorts: ports,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	if p.Arch == "arm64" {
		cfg.Variant = "v8"
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "tarsctl deploy airgap bundle: COPY tarsctl " + BinaryPath,
			Comment:   "tarsctl " + opts.Version + " for " + p.String(),
		},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// writeLayer writes the image's only layer, gzip-compressed: the
// directories, a passwd and group file naming the user, and the binary.
// Every header has the same fixed time and owner, so the same binary gives
// the same layer digest.
func writeLayer(path, binary string, mtime time.Time) (err error) {
	bin, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer bin.Close()
	fi, err := bin.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	gz, err := gzip.NewWriterLevel(out, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mt := mtime.UTC()
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: uid, ModTime: mt, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
		uid  int
	}{
		{"etc/", 0o755, 0}, {"tmp/", 0o1777, 0}, {"usr/", 0o755, 0}, {"usr/local/", 0o755, 0}, {"usr/local/bin/", 0o755, 0},
		{"var/", 0o755, 0}, {"var/lib/", 0o755, 0},
		{"var/lib/tars/", 0o750, ImageUID}, {"var/lib/tars/data/", 0o750, ImageUID}, {"var/lib/tars/logs/", 0o750, ImageUID},
		{"var/lib/tars/run/", 0o750, ImageUID}, {"var/lib/tars/secrets/", 0o700, ImageUID},
	} {
		if err := dir(d.name, d.mode, d.uid); err != nil {
			return err
		}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", ImageUID, ImageGID, imageHome)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", ImageGID)
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755, Size: fi.Size(), ModTime: mt, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if n, err := io.Copy(tw, bin); err != nil {
		return err
	} else if n != fi.Size() {
		return fmt.Errorf("%s changed while it was read", binary)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// OCI layout and docker-archive names.
const (
	ociLayoutFile = "oci-layout"
	indexFile     = "index.json"
	dockerFile    = "manifest.json"
	// AnnotationRefName and containerdName tag the index in index.json:
	// the OCI reference name (the tag) and the full name containerd and
	// Docker's containerd image store use on load.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	containerdName    = "io.containerd.image.name"
)

// WriteArchive writes idx as one tar file that is both an OCI image layout
// (oci-layout, index.json, blobs/sha256/...) naming idx as ref, and a
// docker-archive (manifest.json) listing each platform's image tagged
// REF-ARCH, as `docker save` of Docker 25 and later writes it. Docker
// loads either half: the containerd image store reads index.json, the
// classic store manifest.json. Blobs are streamed from their sources.
func WriteArchive(w io.Writer, idx v1.ImageIndex, ref string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	mt := mtime.UTC()
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}
	idxRaw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	idxMT, err := idx.MediaType()
	if err != nil {
		return err
	}
	tag := ref
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	top := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   idxMT,
			Size:        int64(len(idxRaw)),
			Digest:      idxDigest,
			Annotations: map[string]string{AnnotationRefName: tag, containerdName: ref},
		}},
	}
	topRaw, err := json.Marshal(top)
	if err != nil {
		return err
	}
	type dockerEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var docker []dockerEntry
	blobs := map[v1.Hash]func() (io.ReadCloser, int64, error){}
	addBytes := func(h v1.Hash, b []byte) {
		blobs[h] = func() (io.ReadCloser, int64, error) { return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil }
	}
	addBytes(idxDigest, idxRaw)
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		addBytes(desc.Digest, raw)
		cfgName, err := img.ConfigName()
		if err != nil {
			return err
		}
		cfgRaw, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		addBytes(cfgName, cfgRaw)
		entry := dockerEntry{Config: blobPath(cfgName)}
		if desc.Platform != nil {
			entry.RepoTags = []string{ref + "-" + desc.Platform.Architecture}
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			size, err := l.Size()
			if err != nil {
				return err
			}
			blobs[d] = func() (io.ReadCloser, int64, error) {
				rc, err := l.Compressed()
				return rc, size, err
			}
			entry.Layers = append(entry.Layers, blobPath(d))
		}
		docker = append(docker, entry)
	}
	dockerRaw, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	if err := put(ociLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put(indexFile, topRaw); err != nil {
		return err
	}
	if err := put(dockerFile, dockerRaw); err != nil {
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	var hashes []v1.Hash
	for h := range blobs {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	for _, h := range hashes {
		rc, size, err := blobs[h]()
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(h), Mode: 0o644, Size: size, ModTime: mt, Format: tar.FormatPAX})
		if err == nil {
			_, err = io.Copy(tw, rc)
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("write blob %s: %w", h, err)
		}
	}
	return tw.Close()
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
